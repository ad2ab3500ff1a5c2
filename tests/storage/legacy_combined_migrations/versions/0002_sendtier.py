"""Send tier: supplier ids, attempts and error classes on submit results; orphan receipts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02

Written by hand to match models.py; types are spelled out here, as in 0001, so this revision keeps
creating the same schema when the models change later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from smsplatform.database.migration_types import MYSQL_TABLE_ARGS, big_id_type, utc_type

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch_alter_table: SQLite cannot add a NOT NULL column with a default in place everywhere;
    # on MySQL this is plain ALTER TABLE. The server default fills rows written before 0002.
    with op.batch_alter_table("submit_results") as batch:
        batch.add_column(sa.Column("supplier_message_id", sa.String(128), nullable=True))
        batch.add_column(
            sa.Column("attempt", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
        batch.add_column(sa.Column("error_class", sa.String(32), nullable=True))
    # Receipts find their submit by the supplier's own id (SUPPLIERS.md §6).
    op.create_index(
        "ix_submit_results_supplier_supplier_message_id",
        "submit_results",
        ["supplier", "supplier_message_id"],
    )

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


def downgrade() -> None:
    op.drop_table("orphan_receipts")
    op.drop_index("ix_submit_results_supplier_supplier_message_id", table_name="submit_results")
    with op.batch_alter_table("submit_results") as batch:
        batch.drop_column("error_class")
        batch.drop_column("attempt")
        batch.drop_column("supplier_message_id")
