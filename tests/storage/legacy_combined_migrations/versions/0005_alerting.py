"""Alerting pipeline: silences and the notification log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

Written by hand to match alerting_models.py, with the types spelled out
(see 0001; the shared ones are in migration_types.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from smsplatform.database.migration_types import MYSQL_TABLE_ARGS, utc_column

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "silences",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        utc_column("starts_at", nullable=False),
        utc_column("ends_at", nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        utc_column("created_at", nullable=False),
        utc_column("updated_at", nullable=False),
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
        utc_column("claimed_at", nullable=False),
        sa.Column("claimed_by", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=True),
        utc_column("finished_at", nullable=True),
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
