"""Degradation versions on MariaDB: times come back as stored, and one writer wins a version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controlplane.actions.degradation_store import DegradationVersion, DegradationVersionRepository
from controlplane.storage import CONTROL_PLANE_HISTORY, Database
from smsplatform.contracts import DegradationPolicy

AT = datetime(2026, 11, 11, 12, 0, 0, 123456, tzinfo=UTC)


def version(number: int, changed_by: str) -> DegradationVersion:
    policy = DegradationPolicy(
        version=number,
        at=AT,
        level="sample",
        sample_ratio=0.25,
        until=AT + timedelta(hours=6),
        reason="shopping festival night",
    )
    return DegradationVersion(policy, changed_by, {"readings": {"ingest_rate": 4200.5}})


def test_two_replicas_writing_the_same_version_agree_on_one_winner(mariadb_url: str) -> None:
    database = Database(mariadb_url)
    database.upgrade(CONTROL_PLANE_HISTORY)
    try:
        first = DegradationVersionRepository(database)
        second = DegradationVersionRepository(database)

        won = first.add(version(1, "schedule:singles-day"))
        lost = second.add(version(1, "auto"))
        newest = second.newest()
    finally:
        database.dispose()

    assert (won, lost) == (True, False)
    assert newest == version(1, "schedule:singles-day")
