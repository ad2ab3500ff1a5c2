"""Escalation episodes, claimed steps, their alerts, and voice calls placed for alert groups.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

Written by hand to match escalation_models.py, with the types spelled out (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL_TABLE_ARGS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def _utc(nullable: bool, name: str) -> sa.Column[Any]:
    kind = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    return sa.Column(name, kind, nullable=nullable)


def _id(name: str, autoincrement: bool) -> sa.Column[Any]:
    kind = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    return sa.Column(name, kind, autoincrement=autoincrement, nullable=False)


def upgrade() -> None:
    op.create_table(
        "escalations",
        _id("id", autoincrement=True),
        sa.Column("group_hash", sa.String(64), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("chain", sa.String(255), nullable=False),
        _utc(False, "started_at"),
        _utc(True, "acked_at"),
        sa.Column("acked_by", sa.String(255), nullable=True),
        sa.Column("acked_via", sa.String(16), nullable=True),
        _utc(True, "resolved_at"),
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
        _utc(False, "claimed_at"),
        sa.PrimaryKeyConstraint("escalation_id", "step", name="pk_escalation_steps"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_table(
        "voice_calls",
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        _utc(False, "placed_at"),
        sa.PrimaryKeyConstraint("call_id", name="pk_voice_calls"),
        **MYSQL_TABLE_ARGS,
    )


def downgrade() -> None:
    op.drop_table("voice_calls")
    op.drop_table("escalation_steps")
    op.drop_table("escalation_alerts")
    op.drop_table("escalations")
