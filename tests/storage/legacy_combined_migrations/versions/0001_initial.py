"""Initial schema: messages, receipts, submit results, supplier logs and probe results.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

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
        "messages",
        sa.Column("id", sa.String(128), nullable=False),
        _id("tenant"),
        sa.Column("phone", sa.String(32), nullable=False),
        _id("carrier"),
        _enum("message_class"),
        _id("template_id"),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        _id("idempotency_key", nullable=True),
        sa.Column("created_at", utc_type(), nullable=False),
        _enum("last_status", nullable=True),
        sa.Column("updated_at", utc_type(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("tenant", "idempotency_key", name="uq_messages_tenant_idempotency_key"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("ix_messages_tenant_created_at", "messages", ["tenant", "created_at"])

    op.create_table(
        "receipts",
        sa.Column("id", big_id_type(), autoincrement=True, nullable=False),
        _id("message_id"),
        _id("supplier"),
        _id("carrier"),
        _enum("message_class"),
        _enum("status"),
        sa.Column("raw_status", sa.String(255), nullable=True),
        sa.Column("error_code", sa.String(128), nullable=True),
        sa.Column("submitted_at", utc_type(), nullable=False),
        sa.Column("reported_at", utc_type(), nullable=False),
        sa.Column("received_at", utc_type(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_receipts"),
        sa.UniqueConstraint("message_id", "status", name="uq_receipts_message_id_status"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("ix_receipts_supplier_reported_at", "receipts", ["supplier", "reported_at"])

    op.create_table(
        "submit_results",
        sa.Column("id", big_id_type(), autoincrement=True, nullable=False),
        _id("message_id"),
        _id("supplier"),
        _id("carrier"),
        _enum("message_class"),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("error_code", sa.String(128), nullable=True),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        sa.Column("at", utc_type(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_submit_results"),
        sa.UniqueConstraint(
            "message_id", "supplier", "at", name="uq_submit_results_message_id_supplier_at"
        ),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("ix_submit_results_supplier_at", "submit_results", ["supplier", "at"])

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
    for table in ("probe_results", "supplier_logs", "submit_results", "receipts", "messages"):
        op.drop_table(table)
