"""The control plane's own archive of the receipts and submit results it ingests.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08

It stored them in `receipts` and `submit_results`, which the send tier owns now (its history,
st0001, takes them over). Rows already there are copied into the archive, so what the control
plane ingested before stays in the control plane's tables; the originals are left to the send
tier.

Written by hand to match models.py, with the types spelled out (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from smsplatform.database.migration_types import MYSQL_TABLE_ARGS, big_id_type, utc_type

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECEIPT_COLUMNS = (
    "message_id, supplier, carrier, message_class, status, raw_status, error_code, "
    "submitted_at, reported_at, received_at"
)
SUBMIT_COLUMNS = (
    "message_id, supplier, carrier, message_class, accepted, error_code, latency_ms, at, "
    "supplier_message_id, attempt, error_class"
)


def _id(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(128), nullable=nullable)


def _enum(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(16), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "archived_receipts",
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
        sa.PrimaryKeyConstraint("id", name="pk_archived_receipts"),
        sa.UniqueConstraint("message_id", "status", name="uq_archived_receipts_message_id_status"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index(
        "ix_archived_receipts_supplier_reported_at",
        "archived_receipts",
        ["supplier", "reported_at"],
    )
    op.create_table(
        "archived_submit_results",
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
        sa.PrimaryKeyConstraint("id", name="pk_archived_submit_results"),
        sa.UniqueConstraint(
            "message_id",
            "supplier",
            "at",
            name="uq_archived_submit_results_message_id_supplier_at",
        ),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index(
        "ix_archived_submit_results_supplier_at", "archived_submit_results", ["supplier", "at"]
    )
    op.create_index(
        "ix_archived_submit_results_supplier_supplier_message_id",
        "archived_submit_results",
        ["supplier", "supplier_message_id"],
    )
    _copy_what_was_ingested_before()


def _copy_what_was_ingested_before() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "receipts" in existing:
        op.execute(
            f"INSERT INTO archived_receipts ({RECEIPT_COLUMNS}) "
            f"SELECT {RECEIPT_COLUMNS} FROM receipts ORDER BY id"
        )
    if "submit_results" in existing:
        columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("submit_results")}
        # Before 0002 the submit results had no supplier id, attempt or error class.
        wanted = SUBMIT_COLUMNS if "attempt" in columns else SUBMIT_COLUMNS.rsplit(", ", 3)[0]
        op.execute(
            f"INSERT INTO archived_submit_results ({wanted}) "
            f"SELECT {wanted} FROM submit_results ORDER BY id"
        )


def downgrade() -> None:
    op.drop_table("archived_submit_results")
    op.drop_table("archived_receipts")
