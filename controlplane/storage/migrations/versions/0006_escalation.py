"""Escalation episodes, claimed steps, their alerts, and voice calls placed for alert groups.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

Written by hand to match escalation_models.py, with the types spelled out
(see 0001; the shared ones are in migration_types.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from smsplatform.database.migration_types import MYSQL_TABLE_ARGS, big_id_type, utc_column

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(name: str, autoincrement: bool) -> sa.Column[Any]:
    return sa.Column(name, big_id_type(), autoincrement=autoincrement, nullable=False)


def upgrade() -> None:
    op.create_table(
        "escalations",
        _id("id", autoincrement=True),
        sa.Column("group_hash", sa.String(64), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("chain", sa.String(255), nullable=False),
        utc_column("started_at", nullable=False),
        utc_column("acked_at", nullable=True),
        sa.Column("acked_by", sa.String(255), nullable=True),
        sa.Column("acked_via", sa.String(16), nullable=True),
        utc_column("resolved_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_escalations"),
        sa.UniqueConstraint(
            "group_hash", "started_at", name="uq_escalations_group_hash_started_at"
        ),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("ix_escalations_resolved_at", "escalations", ["resolved_at"])
    op.create_table(
        "escalation_alerts",
        _id("escalation_id", autoincrement=False),
        sa.Column("fingerprint", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("escalation_id", "fingerprint", name="pk_escalation_alerts"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("ix_escalation_alerts_fingerprint", "escalation_alerts", ["fingerprint"])
    op.create_table(
        "escalation_steps",
        _id("escalation_id", autoincrement=False),
        sa.Column("step", sa.Integer(), autoincrement=False, nullable=False),
        utc_column("claimed_at", nullable=False),
        sa.PrimaryKeyConstraint("escalation_id", "step", name="pk_escalation_steps"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_table(
        "voice_calls",
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        utc_column("placed_at", nullable=False),
        sa.PrimaryKeyConstraint("call_id", name="pk_voice_calls"),
        **MYSQL_TABLE_ARGS,
    )


def downgrade() -> None:
    op.drop_table("voice_calls")
    op.drop_table("escalation_steps")
    op.drop_table("escalation_alerts")
    op.drop_table("escalations")
