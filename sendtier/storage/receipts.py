"""The send tier's receipts, submit results and orphan reports: batched, idempotent writes."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec
from sqlalchemy import Table, and_, select

from sendtier.storage.models import OrphanReceiptRow, ReceiptRow, SubmitResultRow
from smsplatform.contracts import ReceiptStatus
from smsplatform.database.batch import BatchInsert
from smsplatform.database.columns import CLASS_LENGTH, CODE_LENGTH, ID_LENGTH, RAW_STATUS_LENGTH
from smsplatform.database.engine import Database
from smsplatform.database.event_tables import ReceiptTable, SubmitResultTable
from smsplatform.database.reads import count_rows, fetch_rows

RECEIPTS: Table = ReceiptRow.__table__  # type: ignore[assignment]
SUBMIT_RESULTS: Table = SubmitResultRow.__table__  # type: ignore[assignment]
ORPHAN_RECEIPTS: Table = OrphanReceiptRow.__table__  # type: ignore[assignment]

_astuple = msgspec.structs.astuple
_dedup_encoder = msgspec.json.Encoder(order="sorted")


class ReceiptRepository(ReceiptTable):
    """The receipts of our messages (receipts)."""

    def __init__(self, database: Database) -> None:
        super().__init__(database, RECEIPTS)


class SubmitResultRepository(SubmitResultTable):
    """The submits of our messages to suppliers (submit_results)."""

    def __init__(self, database: Database) -> None:
        super().__init__(database, SUBMIT_RESULTS)


class OrphanReceipt(msgspec.Struct, frozen=True):
    """A supplier report no submit of ours matched: late, foreign, or its submit was lost."""

    supplier: str
    supplier_message_id: str
    raw_status: str
    received_at: datetime
    reason: str
    message_id: str | None = None
    status: ReceiptStatus | None = None
    error_code: str | None = None
    reported_at: datetime | None = None
    fields: dict[str, str] = msgspec.field(default_factory=dict)


ORPHAN_RECEIPT_FIELDS = OrphanReceipt.__struct_fields__


def orphan_receipt_dedup_key(orphan: OrphanReceipt) -> str:
    """The hex SHA-256 of what the supplier reported; a re-push of the same report has the same."""
    reported_at = None if orphan.reported_at is None else orphan.reported_at.astimezone(UTC)
    identity = (
        orphan.supplier,
        orphan.supplier_message_id,
        orphan.message_id,
        orphan.status,
        orphan.raw_status,
        orphan.error_code,
        reported_at,
    )
    return hashlib.sha256(_dedup_encoder.encode(identity)).hexdigest()


class OrphanReceiptRepository:
    """Uncorrelated supplier reports; the same report pushed again is stored once."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._insert = BatchInsert(
            database,
            ORPHAN_RECEIPTS,
            (*ORPHAN_RECEIPT_FIELDS, "dedup_key"),
            unique_key=("dedup_key",),
            cuts={
                "supplier_message_id": ID_LENGTH,
                "message_id": ID_LENGTH,
                "raw_status": RAW_STATUS_LENGTH,
                "error_code": CODE_LENGTH,
                "reason": CLASS_LENGTH,
            },
        )
        self._columns = [ORPHAN_RECEIPTS.c[name] for name in ORPHAN_RECEIPT_FIELDS]

    def add_batch(self, orphans: Sequence[OrphanReceipt]) -> None:
        """Store the reports in one transaction; those already stored are skipped."""
        self._insert.write((*_astuple(o), orphan_receipt_dedup_key(o)) for o in orphans)

    def recent(self, supplier: str | None = None, limit: int = 100) -> list[OrphanReceipt]:
        """The latest orphans, newest first, optionally of one supplier."""
        statement = select(*self._columns)
        if supplier is not None:
            statement = statement.where(ORPHAN_RECEIPTS.c.supplier == supplier)
        statement = statement.order_by(
            ORPHAN_RECEIPTS.c.received_at.desc(), ORPHAN_RECEIPTS.c.id.desc()
        ).limit(limit)
        return [OrphanReceipt(*row) for row in fetch_rows(self._database, statement)]

    def count(self, supplier: str | None = None, reason: str | None = None) -> int:
        """How many orphans are stored, in all, of one supplier and/or for one reason."""
        conditions = []
        if supplier is not None:
            conditions.append(ORPHAN_RECEIPTS.c.supplier == supplier)
        if reason is not None:
            conditions.append(ORPHAN_RECEIPTS.c.reason == reason)
        where = and_(*conditions) if conditions else None
        return count_rows(self._database, ORPHAN_RECEIPTS, where)
