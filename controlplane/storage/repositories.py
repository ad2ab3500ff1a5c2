"""Repositories of the events the control plane stores: idempotent batched writes, reads that
return contracts."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC

import msgspec
from sqlalchemy import Table, select

from controlplane.storage.models import (
    ArchivedReceiptRow,
    ArchivedSubmitResultRow,
    ProbeResultRow,
    SupplierLogRow,
)
from smsplatform.contracts import ProbeResult, SupplierLog
from smsplatform.database.batch import BatchInsert
from smsplatform.database.columns import CODE_LENGTH, TEXT_CHARS
from smsplatform.database.engine import Database
from smsplatform.database.event_tables import ReceiptTable, SubmitResultTable
from smsplatform.database.reads import count_rows, fetch_rows

SUPPLIER_LOGS: Table = SupplierLogRow.__table__  # type: ignore[assignment]
PROBE_RESULTS: Table = ProbeResultRow.__table__  # type: ignore[assignment]
ARCHIVED_RECEIPTS: Table = ArchivedReceiptRow.__table__  # type: ignore[assignment]
ARCHIVED_SUBMIT_RESULTS: Table = ArchivedSubmitResultRow.__table__  # type: ignore[assignment]

# Row tuples are the structs' own fields in declaration order (msgspec.structs.astuple).
SUPPLIER_LOG_FIELDS = SupplierLog.__struct_fields__
PROBE_RESULT_FIELDS = ProbeResult.__struct_fields__

_astuple = msgspec.structs.astuple
_dedup_encoder = msgspec.json.Encoder(order="sorted")


def supplier_log_dedup_key(entry: SupplierLog) -> str:
    """The hex SHA-256 of the whole event, with its time in UTC and its fields in sorted order."""
    if entry.at.tzinfo is not UTC:
        entry = msgspec.structs.replace(entry, at=entry.at.astimezone(UTC))
    return hashlib.sha256(_dedup_encoder.encode(entry)).hexdigest()


class SupplierLogRepository:
    """Supplier log lines; an event delivered twice is stored once (keyed by its digest)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._insert = BatchInsert(
            database,
            SUPPLIER_LOGS,
            (*SUPPLIER_LOG_FIELDS, "dedup_key"),
            unique_key=("dedup_key",),
            cuts={"code": CODE_LENGTH, "text": TEXT_CHARS},
        )
        self._columns = [SUPPLIER_LOGS.c[name] for name in SUPPLIER_LOG_FIELDS]

    def add_batch(self, entries: Sequence[SupplierLog]) -> None:
        """Store the log lines in one transaction; those already stored are skipped."""
        self._insert.write((*_astuple(entry), supplier_log_dedup_key(entry)) for entry in entries)

    def recent(self, supplier: str, limit: int = 100) -> list[SupplierLog]:
        """One supplier's latest log lines, newest first."""
        statement = (
            select(*self._columns)
            .where(SUPPLIER_LOGS.c.supplier == supplier)
            .order_by(SUPPLIER_LOGS.c.at.desc(), SUPPLIER_LOGS.c.id.desc())
            .limit(limit)
        )
        return [SupplierLog(*row) for row in fetch_rows(self._database, statement)]

    def count(self) -> int:
        """How many log lines are stored."""
        return count_rows(self._database, SUPPLIER_LOGS)


class ProbeResultRepository:
    """Synthetic check results; one row per (probe, target, time)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._insert = BatchInsert(
            database,
            PROBE_RESULTS,
            PROBE_RESULT_FIELDS,
            unique_key=("probe", "target", "at"),
            cuts={"detail": TEXT_CHARS},
        )
        self._columns = [PROBE_RESULTS.c[name] for name in PROBE_RESULT_FIELDS]

    def add_batch(self, results: Sequence[ProbeResult]) -> None:
        """Store the results in one transaction; those already stored are skipped."""
        self._insert.write(_astuple(result) for result in results)

    def recent(
        self, probe: str | None = None, target: str | None = None, limit: int = 100
    ) -> list[ProbeResult]:
        """The latest results, newest first, optionally of one probe and/or one target."""
        statement = select(*self._columns)
        if probe is not None:
            statement = statement.where(PROBE_RESULTS.c.probe == probe)
        if target is not None:
            statement = statement.where(PROBE_RESULTS.c.target == target)
        statement = statement.order_by(PROBE_RESULTS.c.at.desc(), PROBE_RESULTS.c.id.desc())
        return [ProbeResult(*row) for row in fetch_rows(self._database, statement.limit(limit))]

    def count(self) -> int:
        """How many probe results are stored."""
        return count_rows(self._database, PROBE_RESULTS)


class ReceiptArchive(ReceiptTable):
    """The receipts the control plane ingested and stored itself (archived_receipts)."""

    def __init__(self, database: Database) -> None:
        super().__init__(database, ARCHIVED_RECEIPTS)


class SubmitResultArchive(SubmitResultTable):
    """The submit results the control plane ingested and stored itself."""

    def __init__(self, database: Database) -> None:
        super().__init__(database, ARCHIVED_SUBMIT_RESULTS)
