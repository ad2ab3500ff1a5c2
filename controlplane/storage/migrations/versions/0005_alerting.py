"""Alerting pipeline: silences and the notification log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

Written by hand to match alerting_models.py, with the types spelled out (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005"
down_revision: str | None = "0004"
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


def upgrade() -> None:
    op.create_table(
        "silences",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        _utc(False, "starts_at"),
        _utc(False, "ends_at"),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        _utc(False, "created_at"),
        _utc(False, "updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_silences"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"])
    op.create_table(
        "notification_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("claim_key", sa.String(64), nullable=False),
        sa.Column("receiver", sa.String(255), nullable=False),
        sa.Column("group_hash", sa.String(64), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("firing", sa.JSON(), nullable=False),
        sa.Column("resolved", sa.JSON(), nullable=False),
        _utc(False, "claimed_at"),
        sa.Column("claimed_by", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=True),
        _utc(True, "finished_at"),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notification_log"),
        sa.UniqueConstraint("claim_key", name="uq_notification_log_claim_key"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index(
        "ix_notification_log_receiver_group_hash_claimed_at",
        "notification_log",
        ["receiver", "group_hash", "claimed_at"],
    )


def downgrade() -> None:
    op.drop_table("notification_log")
    op.drop_table("silences")
