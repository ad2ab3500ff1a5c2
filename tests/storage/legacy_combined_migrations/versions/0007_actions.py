"""Routing-table and degradation-policy versions written by the control plane's actions, and the
weight of a receipt stored from a degradation sample.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

Written by hand to match action_models.py, with the types spelled out
(see 0001; the shared ones are in migration_types.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from smsplatform.database.migration_types import MYSQL_TABLE_ARGS, utc_column

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "receipts", sa.Column("weight", sa.Double(), server_default=sa.text("1"), nullable=False)
    )
    op.create_table(
        "routing_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        utc_column("at", nullable=False),
        sa.Column("changed_by", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_routing_versions"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_table(
        "degradation_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        utc_column("at", nullable=False),
        sa.Column("level", sa.String(32), nullable=False),
        sa.Column("sample_ratio", sa.Double(), nullable=False),
        utc_column("until", nullable=True),
        sa.Column("changed_by", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_degradation_versions"),
        **MYSQL_TABLE_ARGS,
    )


def downgrade() -> None:
    op.drop_table("degradation_versions")
    op.drop_table("routing_versions")
    op.drop_column("receipts", "weight")
