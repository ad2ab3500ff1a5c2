"""Repositories of the stored events: idempotent batched writes, reads that return contracts."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Select, Table, func, select

from controlplane.contracts import ProbeResult, Receipt, SubmitResult, SupplierLog
from controlplane.storage.batch import BatchInsert
from controlplane.storage.database import Database
from controlplane.storage.models import (
    CODE_LENGTH,
    RAW_STATUS_LENGTH,
    ProbeResultRow,
    ReceiptRow,
    SubmitResultRow,
    SupplierLogRow,
)

RECEIPTS: Table = ReceiptRow.__table__  # type: ignore[assignment]
SUBMIT_RESULTS: Table = SubmitResultRow.__table__  # type: ignore[assignment]
SUPPLIER_LOGS: Table = SupplierLogRow.__table__  # type: ignore[assignment]
PROBE_RESULTS: Table = ProbeResultRow.__table__  # type: ignore[assignment]

# Row tuples are the structs' own fields in declaration order (msgspec.structs.astuple), so the
# column lists below are the contracts' field names: no per-row dict or ORM object is built.
RECEIPT_FIELDS = Receipt.__struct_fields__
SUBMIT_RESULT_FIELDS = SubmitResult.__struct_fields__
SUPPLIER_LOG_FIELDS = SupplierLog.__struct_fields__
PROBE_RESULT_FIELDS = ProbeResult.__struct_fields__

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
            cuts={"error_code": CODE_LENGTH},
        )
        self._columns = [SUBMIT_RESULTS.c[name] for name in SUBMIT_RESULT_FIELDS]

    def add_batch(self, results: Sequence[SubmitResult]) -> None:
        """Store the results in one transaction; those already stored are skipped."""
        self._insert.write(_astuple(result) for result in results)

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
            cuts={"code": CODE_LENGTH},
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
            database, PROBE_RESULTS, PROBE_RESULT_FIELDS, unique_key=("probe", "target", "at")
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
