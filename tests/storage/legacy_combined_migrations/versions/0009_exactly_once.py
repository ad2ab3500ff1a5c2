"""Sending exactly once: the dispatcher's submitted markers, and the part of an idempotent send
still to publish after the bus took only some of it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26

Written by hand to match dispatch_models.py and api_models.py, with the types spelled out
(see 0001; the shared ones are in migration_types.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsplatform.database.migration_types import MYSQL_TABLE_ARGS, utc_column

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "submitted_markers",
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("results", sa.LargeBinary(), nullable=False),
        utc_column("created_at", nullable=False),
        sa.PrimaryKeyConstraint("message_id", name="pk_submitted_markers"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("ix_submitted_markers_created_at", "submitted_markers", ["created_at"])
    op.add_column(
        "idempotency_keys",
        sa.Column(
            "pending",
            sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb"),
            nullable=True,
        ),
    )


def downgrade() -> None:
    op.drop_column("idempotency_keys", "pending")
    op.drop_table("submitted_markers")
