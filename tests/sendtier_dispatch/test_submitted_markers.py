"""The submitted markers: written and read in batches, kept in memory when the store fails."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from dispatch_helpers import T0, dispatch_database

from sendtier.dispatch.submitted import RETENTION, SubmittedMarkers
from sendtier.storage import Database
from sendtier.storage.dispatch_repositories import SubmittedMarkerRepository
from smsplatform.clock import ManualClock
from smsplatform.contracts import SubmitResult


class CountingRepository(SubmittedMarkerRepository):
    """The real repository, counting the statements asked of it."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.reads: list[int] = []
        self.writes: list[int] = []

    def find_many(self, message_ids: Sequence[str]) -> dict[str, bytes]:
        self.reads.append(len(message_ids))
        return super().find_many(message_ids)

    def add_many(self, markers: Sequence[tuple[str, bytes]], at: datetime) -> None:
        self.writes.append(len(markers))
        super().add_many(markers, at)


def result(message_id: str) -> SubmitResult:
    return SubmitResult(
        message_id=message_id,
        supplier="alpha",
        carrier="cmcc",
        message_class="otp",
        accepted=True,
        latency_ms=12.0,
        at=T0,
        supplier_message_id=f"sid-{message_id}",
    )


async def test_markers_of_concurrent_messages_take_few_statements_and_read_back() -> None:
    with dispatch_database() as database:
        repository = CountingRepository(database)
        writer = SubmittedMarkers(repository, ManualClock(T0))
        ids = [f"msg-{n}" for n in range(200)]
        await asyncio.gather(*(writer.record(i, [result(i)]) for i in ids))

        # Another process (a restarted dispatcher) reads them from the database.
        reader_repository = CountingRepository(database)
        reader = SubmittedMarkers(reader_repository, ManualClock(T0))
        found = await asyncio.gather(*(reader.find(i) for i in [*ids, "never-sent"]))

    assert sum(repository.writes) == 200 and len(repository.writes) <= 2
    assert len(reader_repository.reads) <= 2
    assert found[:200] == [[result(i)] for i in ids]
    assert found[200] is None


async def test_a_marker_the_store_refused_still_holds_in_this_process(sqlite_url: str) -> None:
    unmigrated = Database(sqlite_url)
    markers = SubmittedMarkers(SubmittedMarkerRepository(unmigrated), ManualClock(T0))

    with pytest.raises(Exception, match="submitted_markers"):
        await markers.record("msg-1", [result("msg-1")])
    found = await markers.find("msg-1")
    unmigrated.dispose()

    assert found == [result("msg-1")]


async def test_markers_older_than_the_retention_are_purged() -> None:
    clock = ManualClock(T0)
    with dispatch_database() as database:
        markers = SubmittedMarkers(SubmittedMarkerRepository(database), clock)
        await markers.record("old", [result("old")])
        clock.advance((RETENTION + timedelta(hours=1)).total_seconds())
        await markers.record("new", [result("new")])
        left = SubmittedMarkerRepository(database).find_many(["old", "new"])

    assert sorted(left) == ["new"]
