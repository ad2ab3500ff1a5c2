"""The receipt gateway's memory of the reports it took (replays are not published again), and
the reports it holds until their submit is known.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Written by hand to match models.py, with the types spelled out
(see 0001; the shared ones are in migration_types.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from smsplatform.database.migration_types import MYSQL_TABLE_ARGS, big_id_type, utc_column

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "taken_reports",
        sa.Column("id", big_id_type(), autoincrement=True, nullable=False),
        sa.Column("dedup_key", sa.String(64), nullable=False),
        sa.Column("supplier", sa.String(128), nullable=False),
        sa.Column("supplier_message_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        utc_column("taken_at", nullable=False),
        sa.Column("held_by", sa.String(64), nullable=True),
        sa.Column("report", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_taken_reports"),
        sa.UniqueConstraint("dedup_key", name="uq_taken_reports_dedup_key"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("ix_taken_reports_taken_at", "taken_reports", ["taken_at"])
    op.create_index("ix_taken_reports_held_by", "taken_reports", ["held_by"])


def downgrade() -> None:
    op.drop_table("taken_reports")
