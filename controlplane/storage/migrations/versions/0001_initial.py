"""Initial schema: supplier logs and probe results.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

Messages, receipts and submit results were created here too until the send tier took its
tables into a history of its own (sendtier/storage/migrations, st0001): a database built before
that has them, and the send tier's history takes them over.

Written by hand to match models.py; the types are spelled out here (not imported from the
models) so this revision keeps creating the same schema when the models change later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from smsplatform.database.migration_types import MYSQL_TABLE_ARGS, big_id_type, utc_type

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(128), nullable=nullable)


def _enum(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(16), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "supplier_logs",
        sa.Column("id", big_id_type(), autoincrement=True, nullable=False),
        _id("supplier"),
        _enum("level"),
        sa.Column("code", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", utc_type(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("dedup_key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_supplier_logs"),
        sa.UniqueConstraint("dedup_key", name="uq_supplier_logs_dedup_key"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("ix_supplier_logs_supplier_at", "supplier_logs", ["supplier", "at"])

    op.create_table(
        "probe_results",
        sa.Column("id", big_id_type(), autoincrement=True, nullable=False),
        _id("probe"),
        _id("target"),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("at", utc_type(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_probe_results"),
        sa.UniqueConstraint("probe", "target", "at", name="uq_probe_results_probe_target_at"),
        **MYSQL_TABLE_ARGS,
    )


def downgrade() -> None:
    for table in ("probe_results", "supplier_logs"):
        op.drop_table(table)
