"""Alert state and alert history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

Written by hand to match alert_models.py, with the types spelled out
(see 0001; the shared ones are in migration_types.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from smsplatform.database.migration_types import MYSQL_TABLE_ARGS, utc_column

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("fingerprint", sa.String(16), nullable=False),
        sa.Column("rule_key", sa.String(255), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        utc_column("active_since", nullable=False),
        utc_column("started_at", nullable=True),
        utc_column("resolved_at", nullable=True),
        utc_column("keep_firing_since", nullable=True),
        utc_column("last_evaluated_at", nullable=True),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_alerts"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("ix_alerts_rule_key", "alerts", ["rule_key"])
    op.create_index("ix_alerts_state", "alerts", ["state"])
    op.create_table(
        "alert_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("fingerprint", sa.String(16), nullable=False),
        utc_column("at", nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=True),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_history"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("ix_alert_history_fingerprint_at", "alert_history", ["fingerprint", "at"])


def downgrade() -> None:
    op.drop_table("alert_history")
    op.drop_table("alerts")
