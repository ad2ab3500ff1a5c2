"""Repositories of the stored events: idempotent batched writes, reads that return contracts."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Select, Table, and_, func, select

from controlplane.contracts import ProbeResult, Receipt, ReceiptStatus, SubmitResult, SupplierLog
from controlplane.storage.batch import BatchInsert
from controlplane.storage.database import Database
from controlplane.storage.models import (
    CLASS_LENGTH,
    CODE_LENGTH,
    ID_LENGTH,
    RAW_STATUS_LENGTH,
    TEXT_CHARS,
    OrphanReceiptRow,
    ProbeResultRow,
    ReceiptRow,
    SubmitResultRow,
    SupplierLogRow,
)

RECEIPTS: Table = ReceiptRow.__table__  # type: ignore[assignment]
SUBMIT_RESULTS: Table = SubmitResultRow.__table__  # type: ignore[assignment]
SUPPLIER_LOGS: Table = SupplierLogRow.__table__  # type: ignore[assignment]
PROBE_RESULTS: Table = ProbeResultRow.__table__  # type: ignore[assignment]
ORPHAN_RECEIPTS: Table = OrphanReceiptRow.__table__  # type: ignore[assignment]

# Row tuples are the structs' own fields in declaration order (msgspec.structs.astuple), so the
# column lists below are the contracts' field names: no per-row dict or ORM object is built.
RECEIPT_FIELDS = Receipt.__struct_fields__
SUBMIT_RESULT_FIELDS = SubmitResult.__struct_fields__
SUPPLIER_LOG_FIELDS = SupplierLog.__struct_fields__
PROBE_RESULT_FIELDS = ProbeResult.__struct_fields__
# Ids are looked up in chunks of this many, well under every backend's bound-variable limit.
LOOKUP_CHUNK = 500

_astuple = msgspec.structs.astuple
_dedup_encoder = msgspec.json.Encoder(order="sorted")


def supplier_log_dedup_key(entry: SupplierLog) -> str:
    """The hex SHA-256 of the whole event, with its time in UTC and its fields in sorted order."""
    if entry.at.tzinfo is not UTC:
        entry = msgspec.structs.replace(entry, at=entry.at.astimezone(UTC))
    return hashlib.sha256(_dedup_encoder.encode(entry)).hexdigest()


def _count(database: Database, table: Table, where: ColumnElement[bool] | None = None) -> int:
    statement = select(func.count()).select_from(table)
    if where is not None:
        statement = statement.where(where)
    with database.engine.connect() as connection:
        return int(connection.execute(statement).scalar_one())


def _fetch(database: Database, statement: Select[Any]) -> list[Any]:
    with database.engine.connect() as connection:
        return list(connection.execute(statement))


class ReceiptRepository:
    """Delivery receipts; one row per (message id, status), however often it is redelivered."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._insert = BatchInsert(
            database,
            RECEIPTS,
            RECEIPT_FIELDS,
            unique_key=("message_id", "status"),
            cuts={"raw_status": RAW_STATUS_LENGTH, "error_code": CODE_LENGTH},
        )
        self._columns = [RECEIPTS.c[name] for name in RECEIPT_FIELDS]

    def add_batch(self, receipts: Sequence[Receipt]) -> None:
        """Store the receipts in one transaction; those already stored are skipped."""
        self._insert.write(_astuple(receipt) for receipt in receipts)

    def for_message(self, message_id: str) -> list[Receipt]:
        """Every receipt of one message, oldest report first."""
        statement = (
            select(*self._columns)
            .where(RECEIPTS.c.message_id == message_id)
            .order_by(RECEIPTS.c.reported_at, RECEIPTS.c.id)
        )
        return [Receipt(*row) for row in _fetch(self._database, statement)]

    def for_messages(self, message_ids: Iterable[str]) -> list[Receipt]:
        """Every receipt of these messages, oldest report first within each lookup chunk."""
        wanted = sorted(set(message_ids))
        found: list[Receipt] = []
        for first in range(0, len(wanted), LOOKUP_CHUNK):
            statement = (
                select(*self._columns)
                .where(RECEIPTS.c.message_id.in_(wanted[first : first + LOOKUP_CHUNK]))
                .order_by(RECEIPTS.c.reported_at, RECEIPTS.c.id)
            )
            found.extend(Receipt(*row) for row in _fetch(self._database, statement))
        return found

    def for_supplier(
        self,
        supplier: str,
        since: datetime,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[Receipt]:
        """One supplier's receipts reported in [since, until), oldest first, at most `limit`."""
        statement = select(*self._columns).where(
            RECEIPTS.c.supplier == supplier, RECEIPTS.c.reported_at >= since
        )
        if until is not None:
            statement = statement.where(RECEIPTS.c.reported_at < until)
        statement = statement.order_by(RECEIPTS.c.reported_at, RECEIPTS.c.id).limit(limit)
        return [Receipt(*row) for row in _fetch(self._database, statement)]

    def count(self, message_id: str | None = None) -> int:
        """How many receipts are stored, in all or for one message."""
        where = None if message_id is None else RECEIPTS.c.message_id == message_id
        return _count(self._database, RECEIPTS, where)


class SubmitResultRepository:
    """Submit outcomes; one row per (message id, supplier, time)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._insert = BatchInsert(
            database,
            SUBMIT_RESULTS,
            SUBMIT_RESULT_FIELDS,
            unique_key=("message_id", "supplier", "at"),
            cuts={"error_code": CODE_LENGTH, "error_class": CLASS_LENGTH},
        )
        self._columns = [SUBMIT_RESULTS.c[name] for name in SUBMIT_RESULT_FIELDS]

    def add_batch(self, results: Sequence[SubmitResult]) -> None:
        """Store the results in one transaction; those already stored are skipped."""
        self._insert.write(_astuple(result) for result in results)

    def find_by_supplier_id(self, supplier: str, supplier_message_id: str) -> SubmitResult | None:
        """The accepted submit the supplier knows by this id, or None; how receipts correlate."""
        return self.find_by_supplier_ids(supplier, [supplier_message_id]).get(supplier_message_id)

    def find_by_supplier_ids(
        self, supplier: str, supplier_message_ids: Iterable[str]
    ) -> dict[str, SubmitResult]:
        """The accepted submits of one supplier by its ids; ids with no submit are left out."""
        column = SUBMIT_RESULTS.c.supplier_message_id
        return self._accepted(
            supplier, column, supplier_message_ids, lambda result: result.supplier_message_id
        )

    def find_accepted_for_messages(
        self, supplier: str, message_ids: Iterable[str]
    ) -> dict[str, SubmitResult]:
        """The submits of our messages this supplier accepted, by message id; others left out."""
        column = SUBMIT_RESULTS.c.message_id
        return self._accepted(supplier, column, message_ids, lambda result: result.message_id)

    def _accepted(
        self,
        supplier: str,
        column: ColumnElement[Any],
        keys: Iterable[str],
        key_of: Callable[[SubmitResult], str | None],
    ) -> dict[str, SubmitResult]:
        wanted = sorted(set(keys))
        found: dict[str, SubmitResult] = {}
        for first in range(0, len(wanted), LOOKUP_CHUNK):
            statement = (
                select(*self._columns)
                .where(
                    SUBMIT_RESULTS.c.supplier == supplier,
                    SUBMIT_RESULTS.c.accepted.is_(True),
                    column.in_(wanted[first : first + LOOKUP_CHUNK]),
                )
                # Oldest first, so a later accepted submit under the same key replaces it.
                .order_by(SUBMIT_RESULTS.c.at, SUBMIT_RESULTS.c.id)
            )
            for row in _fetch(self._database, statement):
                result = SubmitResult(*row)
                key = key_of(result)
                if key is not None:
                    found[key] = result
        return found

    def for_message(self, message_id: str) -> list[SubmitResult]:
        """Every submit of one message, oldest first."""
        statement = (
            select(*self._columns)
            .where(SUBMIT_RESULTS.c.message_id == message_id)
            .order_by(SUBMIT_RESULTS.c.at, SUBMIT_RESULTS.c.id)
        )
        return [SubmitResult(*row) for row in _fetch(self._database, statement)]

    def count(self) -> int:
        """How many submit results are stored."""
        return _count(self._database, SUBMIT_RESULTS)


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
        return [SupplierLog(*row) for row in _fetch(self._database, statement)]

    def count(self) -> int:
        """How many log lines are stored."""
        return _count(self._database, SUPPLIER_LOGS)


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
        return [ProbeResult(*row) for row in _fetch(self._database, statement.limit(limit))]

    def count(self) -> int:
        """How many probe results are stored."""
        return _count(self._database, PROBE_RESULTS)


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
        return [OrphanReceipt(*row) for row in _fetch(self._database, statement)]

    def count(self, supplier: str | None = None, reason: str | None = None) -> int:
        """How many orphans are stored, in all, of one supplier and/or for one reason."""
        conditions = []
        if supplier is not None:
            conditions.append(ORPHAN_RECEIPTS.c.supplier == supplier)
        if reason is not None:
            conditions.append(ORPHAN_RECEIPTS.c.reason == reason)
        where = and_(*conditions) if conditions else None
        return _count(self._database, ORPHAN_RECEIPTS, where)
