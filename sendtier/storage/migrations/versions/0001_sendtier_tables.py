"""The send tier's tables, in a history of their own: created, or taken over where they exist.

Revision ID: st0001
Revises:
Create Date: 2026-12-08

Until now one history (the control plane's, version table `alembic_version`) created every
table. A database it built already holds the send tier's tables, at whatever shape its revision
had left them: those are taken over as they are, with their rows, and brought up to the shape
below (the columns and indexes later revisions added). A new database gets them created here.

Written by hand to match sendtier/storage/models.py, with the types spelled out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from smsplatform.database.migration_types import (
    MYSQL_TABLE_ARGS,
    big_id_type,
    utc_column,
    utc_type,
)

revision: str = "st0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(128), nullable=nullable)


def _enum(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(16), nullable=nullable)


def _messages() -> None:
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


def _receipts() -> None:
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
        sa.Column("weight", sa.Double(), server_default=sa.text("1"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_receipts"),
        sa.UniqueConstraint("message_id", "status", name="uq_receipts_message_id_status"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("ix_receipts_supplier_reported_at", "receipts", ["supplier", "reported_at"])


def _submit_results() -> None:
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
        sa.Column("supplier_message_id", sa.String(128), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.Column("error_class", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_submit_results"),
        sa.UniqueConstraint(
            "message_id", "supplier", "at", name="uq_submit_results_message_id_supplier_at"
        ),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("ix_submit_results_supplier_at", "submit_results", ["supplier", "at"])
    _submit_results_by_supplier_id()


def _submit_results_by_supplier_id() -> None:
    # Receipts find their submit by the supplier's own id (SUPPLIERS.md §6).
    op.create_index(
        "ix_submit_results_supplier_supplier_message_id",
        "submit_results",
        ["supplier", "supplier_message_id"],
    )


def _orphan_receipts() -> None:
    op.create_table(
        "orphan_receipts",
        sa.Column("id", big_id_type(), autoincrement=True, nullable=False),
        sa.Column("supplier", sa.String(128), nullable=False),
        sa.Column("supplier_message_id", sa.String(128), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=True),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("raw_status", sa.String(255), nullable=False),
        sa.Column("error_code", sa.String(128), nullable=True),
        sa.Column("reported_at", utc_type(), nullable=True),
        sa.Column("received_at", utc_type(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("dedup_key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orphan_receipts"),
        sa.UniqueConstraint("dedup_key", name="uq_orphan_receipts_dedup_key"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index(
        "ix_orphan_receipts_supplier_supplier_message_id",
        "orphan_receipts",
        ["supplier", "supplier_message_id"],
    )
    op.create_index("ix_orphan_receipts_received_at", "orphan_receipts", ["received_at"])


def _opt_outs() -> None:
    op.create_table(
        "opt_outs",
        sa.Column("id", big_id_type(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("created_at", utc_type(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_opt_outs"),
        sa.UniqueConstraint("tenant", "phone", name="uq_opt_outs_tenant_phone"),
        **MYSQL_TABLE_ARGS,
    )


def _pending_column() -> sa.Column[bytes]:
    return sa.Column(
        "pending",
        sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb"),
        nullable=True,
    )


def _idempotency_keys() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", big_id_type(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", utc_type(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column(
            "response",
            sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"),
            nullable=True,
        ),
        _pending_column(),
        sa.PrimaryKeyConstraint("id", name="pk_idempotency_keys"),
        sa.UniqueConstraint(
            "tenant", "idempotency_key", name="uq_idempotency_keys_tenant_idempotency_key"
        ),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def _taken_reports() -> None:
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


def _submitted_markers() -> None:
    op.create_table(
        "submitted_markers",
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("results", sa.LargeBinary(), nullable=False),
        utc_column("created_at", nullable=False),
        sa.PrimaryKeyConstraint("message_id", name="pk_submitted_markers"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("ix_submitted_markers_created_at", "submitted_markers", ["created_at"])


TABLES: dict[str, Callable[[], None]] = {
    "messages": _messages,
    "receipts": _receipts,
    "submit_results": _submit_results,
    "orphan_receipts": _orphan_receipts,
    "opt_outs": _opt_outs,
    "idempotency_keys": _idempotency_keys,
    "taken_reports": _taken_reports,
    "submitted_markers": _submitted_markers,
}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for name, create in TABLES.items():
        if name not in existing:
            create()
    _bring_taken_over_tables_up_to_date(inspector, existing)


def _bring_taken_over_tables_up_to_date(inspector: sa.Inspector, existing: set[str]) -> None:
    """What the old history's later revisions added to tables a database already had."""

    def columns(table: str) -> set[str]:
        return {column["name"] for column in inspector.get_columns(table)}

    if "submit_results" in existing and "supplier_message_id" not in columns("submit_results"):
        # batch_alter_table: SQLite cannot add a NOT NULL column with a default in place
        # everywhere; on MySQL this is plain ALTER TABLE. The default fills the old rows.
        with op.batch_alter_table("submit_results") as batch:
            batch.add_column(sa.Column("supplier_message_id", sa.String(128), nullable=True))
            batch.add_column(
                sa.Column("attempt", sa.Integer(), nullable=False, server_default=sa.text("1"))
            )
            batch.add_column(sa.Column("error_class", sa.String(32), nullable=True))
        _submit_results_by_supplier_id()
    if "receipts" in existing and "weight" not in columns("receipts"):
        op.add_column(
            "receipts",
            sa.Column("weight", sa.Double(), server_default=sa.text("1"), nullable=False),
        )
    if "idempotency_keys" in existing and "pending" not in columns("idempotency_keys"):
        op.add_column("idempotency_keys", _pending_column())


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
