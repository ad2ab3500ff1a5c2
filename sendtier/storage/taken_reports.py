"""The receipt gateway's memory of the supplier reports it took, and of those it still holds.

A report is known by (supplier, its own key, status): the same report pushed again, or pushed
twice, has the same key, and the gateway answers it without publishing it again. The memory is
bounded by age and by count (`purge`); rows of reports still held are never purged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson
from sqlalchemy import Table, delete, func, or_, select, update

from sendtier.storage.models import TakenReportRow
from smsplatform.database.batch import BatchInsert
from smsplatform.database.columns import ID_LENGTH
from smsplatform.database.engine import Database

TAKEN_REPORTS: Table = TakenReportRow.__table__  # type: ignore[assignment]
# Keys per SELECT ... IN or UPDATE ... IN, well under every backend's bound-variable limit.
_LOOKUP_CHUNK: Final = 500
# Rows per DELETE when purging: short transactions, so pushes taken meanwhile do not wait long.
PURGE_CHUNK: Final = 10_000
_COLUMNS: Final = (
    "dedup_key",
    "supplier",
    "supplier_message_id",
    "status",
    "taken_at",
    "held_by",
    "report",
)


def taken_report_key(supplier: str, supplier_message_id: str, status: str) -> str:
    """The hex SHA-256 of a report's identity, JSON-encoded so no part runs into the next."""
    identity = orjson.dumps([supplier, supplier_message_id, status])
    return hashlib.sha256(identity).hexdigest()


@dataclass(frozen=True, slots=True)
class TakenReport:
    """One report taken; `held_by` and `report` are set while its submit is not known yet."""

    supplier: str
    supplier_message_id: str
    status: str
    taken_at: datetime
    held_by: str | None = None
    report: bytes | None = None

    @property
    def dedup_key(self) -> str:
        return taken_report_key(self.supplier, self.supplier_message_id, self.status)


@dataclass(frozen=True, slots=True)
class HeldReport:
    """A report held for its submit, as stored: its key, supplier, when taken, and its bytes."""

    dedup_key: str
    supplier: str
    taken_at: datetime
    report: bytes


class TakenReportRepository:
    """Reports taken by the receipt gateway; taking one again is a no-op."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._insert = BatchInsert(
            database,
            TAKEN_REPORTS,
            _COLUMNS,
            unique_key=("dedup_key",),
            cuts={"supplier_message_id": ID_LENGTH},
        )

    def add_batch(self, reports: Sequence[TakenReport]) -> None:
        """Remember the reports in one transaction; those already remembered are skipped."""
        self._insert.write(_row(report) for report in reports)

    def taken(self, dedup_keys: Iterable[str]) -> set[str]:
        """Which of these keys are remembered."""
        wanted = sorted(set(dedup_keys))
        found: set[str] = set()
        key_column = TAKEN_REPORTS.c.dedup_key
        with self._database.engine.connect() as connection:
            for first in range(0, len(wanted), _LOOKUP_CHUNK):
                chunk = wanted[first : first + _LOOKUP_CHUNK]
                found.update(connection.scalars(select(key_column).where(key_column.in_(chunk))))
        return found

    def held(self, holder: str, limit: int) -> list[HeldReport]:
        """The reports `holder` holds, first taken first, at most `limit`."""
        table = TAKEN_REPORTS
        statement = (
            select(table.c.dedup_key, table.c.supplier, table.c.taken_at, table.c.report)
            .where(table.c.held_by == holder)
            .order_by(table.c.id)
            .limit(limit)
        )
        with self._database.engine.connect() as connection:
            return [HeldReport(*row) for row in connection.execute(statement)]

    def count_held(self, holder: str) -> int:
        statement = select(func.count()).where(TAKEN_REPORTS.c.held_by == holder)
        with self._database.engine.connect() as connection:
            return int(connection.execute(statement).scalar_one())

    def settle(self, dedup_keys: Sequence[str]) -> None:
        """The reports are published or kept as orphans: forget their bytes, keep their keys."""
        key_column = TAKEN_REPORTS.c.dedup_key
        with self._database.engine.begin() as connection:
            for first in range(0, len(dedup_keys), _LOOKUP_CHUNK):
                chunk = dedup_keys[first : first + _LOOKUP_CHUNK]
                connection.execute(
                    update(TAKEN_REPORTS)
                    .where(key_column.in_(chunk))
                    .values(held_by=None, report=None)
                )

    def purge(self, before: datetime, keep_at_most: int) -> int:
        """Forget settled reports taken before `before`, and the oldest beyond `keep_at_most`.

        The count bound goes by id, the order rows were stored in: ids skipped by refused
        inserts make it forget a little more than needed, never less. Deletes go by id range,
        in short transactions. Returns how many rows were deleted.
        """
        table = TAKEN_REPORTS
        with self._database.engine.connect() as connection:
            oldest, newest = connection.execute(
                select(func.min(table.c.id), func.max(table.c.id))
            ).one()
            last_expired = connection.execute(
                select(func.max(table.c.id)).where(table.c.taken_at < before)
            ).scalar_one()
        if newest is None:
            return 0
        beyond_bound = newest - keep_at_most
        forgettable = or_(table.c.taken_at < before, table.c.id <= beyond_bound)
        deleted = 0
        for low in range(oldest, max(last_expired or 0, beyond_bound) + 1, PURGE_CHUNK):
            chunk = table.c.id.between(low, low + PURGE_CHUNK - 1)
            with self._database.engine.begin() as connection:
                result = connection.execute(
                    delete(table).where(chunk, forgettable, table.c.held_by.is_(None))
                )
                deleted += result.rowcount
        return deleted

    def count(self) -> int:
        """How many reports are remembered."""
        with self._database.engine.connect() as connection:
            return int(
                connection.execute(select(func.count()).select_from(TAKEN_REPORTS)).scalar_one()
            )


def _row(report: TakenReport) -> tuple[Any, ...]:
    return (
        report.dedup_key,
        report.supplier,
        report.supplier_message_id,
        report.status,
        report.taken_at,
        report.held_by,
        report.report,
    )
