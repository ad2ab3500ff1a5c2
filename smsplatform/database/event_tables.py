"""Contract events an owner stores: the columns of receipts and submit results, and their tables.

The send tier stores the receipts and submits of its messages; the control plane archives those
it ingests from a platform it watches. Each owns its table (own name, own migrations); what a row
holds and how rows are written and read is defined here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Double,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from smsplatform.contracts import Receipt, SubmitResult
from smsplatform.database.batch import BatchInsert
from smsplatform.database.columns import (
    CLASS_LENGTH,
    CODE_LENGTH,
    ENUM_LENGTH,
    ID_LENGTH,
    MYSQL_TABLE_ARGS,
    RAW_STATUS_LENGTH,
    UtcDateTime,
    big_id,
)
from smsplatform.database.engine import Database
from smsplatform.database.reads import LOOKUP_CHUNK, count_rows, fetch_rows

# Row tuples are the structs' own fields in declaration order (msgspec.structs.astuple), so the
# column lists are the contracts' field names: no per-row dict or ORM object is built.
RECEIPT_FIELDS = Receipt.__struct_fields__
SUBMIT_RESULT_FIELDS = SubmitResult.__struct_fields__

_astuple = msgspec.structs.astuple


def receipt_table_args() -> tuple[Any, ...]:
    """The constraints a table of ReceiptColumns needs (fresh objects for each table)."""
    return (
        UniqueConstraint("message_id", "status"),
        Index(None, "supplier", "reported_at"),
        MYSQL_TABLE_ARGS,
    )


def submit_result_table_args() -> tuple[Any, ...]:
    """The constraints a table of SubmitResultColumns needs (fresh objects for each table)."""
    return (
        UniqueConstraint("message_id", "supplier", "at"),
        Index(None, "supplier", "at"),
        # Receipts find their submit by the supplier's own id (SUPPLIERS.md §6).
        Index(None, "supplier", "supplier_message_id"),
        MYSQL_TABLE_ARGS,
    )


class ReceiptColumns:
    """A delivery receipt's columns; one row per (message id, status) with receipt_table_args."""

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    supplier: Mapped[str] = mapped_column(String(ID_LENGTH))
    carrier: Mapped[str] = mapped_column(String(ID_LENGTH))
    message_class: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    status: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    raw_status: Mapped[str | None] = mapped_column(String(RAW_STATUS_LENGTH))
    error_code: Mapped[str | None] = mapped_column(String(CODE_LENGTH))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Receipts stored from a degradation sample stand for 1/sample_ratio receipts each.
    weight: Mapped[float] = mapped_column(Double, server_default=text("1"))


class SubmitResultColumns:
    """The columns of the outcome of one submit of one message to one supplier."""

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    supplier: Mapped[str] = mapped_column(String(ID_LENGTH))
    carrier: Mapped[str] = mapped_column(String(ID_LENGTH))
    message_class: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    accepted: Mapped[bool] = mapped_column(Boolean)
    error_code: Mapped[str | None] = mapped_column(String(CODE_LENGTH))
    latency_ms: Mapped[float] = mapped_column(Double)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    supplier_message_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    attempt: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    error_class: Mapped[str | None] = mapped_column(String(CLASS_LENGTH))


class ReceiptTable:
    """Delivery receipts in an owner's table of ReceiptColumns; one row per (message id, status),
    however often it is redelivered."""

    def __init__(self, database: Database, table: Table) -> None:
        self._database = database
        self._table = table
        self._insert = BatchInsert(
            database,
            self._table,
            RECEIPT_FIELDS,
            unique_key=("message_id", "status"),
            cuts={"raw_status": RAW_STATUS_LENGTH, "error_code": CODE_LENGTH},
        )
        self._columns = [self._table.c[name] for name in RECEIPT_FIELDS]

    def add_batch(self, receipts: Sequence[Receipt]) -> None:
        """Store the receipts in one transaction; those already stored are skipped."""
        self._insert.write(_astuple(receipt) for receipt in receipts)

    def for_message(self, message_id: str) -> list[Receipt]:
        """Every receipt of one message, oldest report first."""
        statement = (
            select(*self._columns)
            .where(self._table.c.message_id == message_id)
            .order_by(self._table.c.reported_at, self._table.c.id)
        )
        return [Receipt(*row) for row in fetch_rows(self._database, statement)]

    def for_messages(self, message_ids: Iterable[str]) -> list[Receipt]:
        """Every receipt of these messages, oldest report first within each lookup chunk."""
        wanted = sorted(set(message_ids))
        found: list[Receipt] = []
        for first in range(0, len(wanted), LOOKUP_CHUNK):
            statement = (
                select(*self._columns)
                .where(self._table.c.message_id.in_(wanted[first : first + LOOKUP_CHUNK]))
                .order_by(self._table.c.reported_at, self._table.c.id)
            )
            found.extend(Receipt(*row) for row in fetch_rows(self._database, statement))
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
            self._table.c.supplier == supplier, self._table.c.reported_at >= since
        )
        if until is not None:
            statement = statement.where(self._table.c.reported_at < until)
        statement = statement.order_by(self._table.c.reported_at, self._table.c.id).limit(limit)
        return [Receipt(*row) for row in fetch_rows(self._database, statement)]

    def count(self, message_id: str | None = None) -> int:
        """How many receipts are stored, in all or for one message."""
        where = None if message_id is None else self._table.c.message_id == message_id
        return count_rows(self._database, self._table, where)


class SubmitResultTable:
    """Submit outcomes in an owner's table of SubmitResultColumns; one row per (message id,
    supplier, time)."""

    def __init__(self, database: Database, table: Table) -> None:
        self._database = database
        self._table = table
        self._insert = BatchInsert(
            database,
            self._table,
            SUBMIT_RESULT_FIELDS,
            unique_key=("message_id", "supplier", "at"),
            cuts={"error_code": CODE_LENGTH, "error_class": CLASS_LENGTH},
        )
        self._columns = [self._table.c[name] for name in SUBMIT_RESULT_FIELDS]

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
        column = self._table.c.supplier_message_id
        return self._accepted(
            supplier, column, supplier_message_ids, lambda result: result.supplier_message_id
        )

    def find_accepted_for_messages(
        self, supplier: str, message_ids: Iterable[str]
    ) -> dict[str, SubmitResult]:
        """The submits of our messages this supplier accepted, by message id; others left out."""
        column = self._table.c.message_id
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
                    self._table.c.supplier == supplier,
                    self._table.c.accepted.is_(True),
                    column.in_(wanted[first : first + LOOKUP_CHUNK]),
                )
                # Oldest first, so a later accepted submit under the same key replaces it.
                .order_by(self._table.c.at, self._table.c.id)
            )
            for row in fetch_rows(self._database, statement):
                result = SubmitResult(*row)
                key = key_of(result)
                if key is not None:
                    found[key] = result
        return found

    def for_message(self, message_id: str) -> list[SubmitResult]:
        """Every submit of one message, oldest first."""
        statement = (
            select(*self._columns)
            .where(self._table.c.message_id == message_id)
            .order_by(self._table.c.at, self._table.c.id)
        )
        return [SubmitResult(*row) for row in fetch_rows(self._database, statement)]

    def count(self) -> int:
        """How many submit results are stored."""
        return count_rows(self._database, self._table)
