"""The repository of the dispatcher's submitted markers: written and read in batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Table, delete, select

from sendtier.storage.dispatch_models import SubmittedMarkerRow
from smsplatform.database.batch import BatchInsert
from smsplatform.database.engine import Database

SUBMITTED_MARKERS: Table = SubmittedMarkerRow.__table__  # type: ignore[assignment]
# Ids per SELECT ... IN, well under every backend's bound-variable limit.
LOOKUP_CHUNK = 500


class SubmittedMarkerRepository:
    """One marker per message id; the first written stays (a second write changes nothing)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._insert = BatchInsert(
            database,
            SUBMITTED_MARKERS,
            ("message_id", "results", "created_at"),
            unique_key=("message_id",),
        )

    def add_many(self, markers: Sequence[tuple[str, bytes]], at: datetime) -> None:
        """Store (message id, encoded results) pairs in one transaction."""
        self._insert.write((message_id, results, at) for message_id, results in markers)

    def find_many(self, message_ids: Sequence[str]) -> dict[str, bytes]:
        """The encoded results of those of `message_ids` that have a marker."""
        found: dict[str, bytes] = {}
        column = SUBMITTED_MARKERS.c
        with self._database.engine.connect() as connection:
            for start in range(0, len(message_ids), LOOKUP_CHUNK):
                chunk = message_ids[start : start + LOOKUP_CHUNK]
                statement = select(column.message_id, column.results).where(
                    column.message_id.in_(chunk)
                )
                found.update(
                    (row.message_id, bytes(row.results)) for row in connection.execute(statement)
                )
        return found

    def purge(self, before: datetime) -> int:
        """Delete markers written before `before`; returns how many."""
        statement = delete(SUBMITTED_MARKERS).where(SUBMITTED_MARKERS.c.created_at < before)
        with self._database.engine.begin() as connection:
            return int(connection.execute(statement).rowcount)
