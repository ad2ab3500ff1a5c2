"""The receipt gateway's memory of taken reports (migration 0008), on SQLite and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from sendtier.storage import SENDTIER_HISTORY, Database, TakenReport, TakenReportRepository

T0 = datetime(2026, 7, 1, 4, 0, 0, 125000, tzinfo=UTC)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.upgrade(SENDTIER_HISTORY)
    yield db
    db.dispose()


def taken(n: int, seconds: float = 0, **changes: object) -> TakenReport:
    fields: dict[str, object] = {
        "supplier": "aliyun-main",
        "supplier_message_id": f"biz-{n}/13800000001",
        "status": "DELIVERED",
        "taken_at": T0 + timedelta(seconds=seconds),
    }
    return TakenReport(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_report_is_remembered_once_by_supplier_key_and_status(database: Database) -> None:
    memory = TakenReportRepository(database)
    memory.add_batch([taken(1), taken(2)])
    memory.add_batch([taken(1, seconds=60), taken(2, status="FAILED")])

    assert memory.count() == 3
    asked = [
        taken(1).dedup_key,
        taken(1, status="FAILED").dedup_key,
        taken(1, supplier="tencent-main").dedup_key,
        taken(2, status="FAILED").dedup_key,
    ]
    assert memory.taken(asked) == {taken(1).dedup_key, taken(2, status="FAILED").dedup_key}


def test_keys_whose_parts_run_together_are_different_keys() -> None:
    assert taken(1, supplier="a", supplier_message_id="b|c").dedup_key != (
        taken(1, supplier="a|b", supplier_message_id="c").dedup_key
    )


def test_held_reports_are_read_by_holder_oldest_first_and_settled_by_key(
    database: Database,
) -> None:
    memory = TakenReportRepository(database)
    memory.add_batch(
        [
            taken(1, held_by="gateway-a", report=b"\x01first"),
            taken(2),
            taken(3, seconds=1, held_by="gateway-a", report=b"\x02second"),
            taken(4, held_by="gateway-b", report=b"\x03elsewhere"),
        ]
    )

    held = memory.held("gateway-a", limit=10)
    assert [(h.dedup_key, h.report, h.taken_at) for h in held] == [
        (taken(1).dedup_key, b"\x01first", T0),
        (taken(3).dedup_key, b"\x02second", T0 + timedelta(seconds=1)),
    ]
    assert len(memory.held("gateway-a", limit=1)) == 1
    assert memory.count_held("gateway-a") == 2

    memory.settle([taken(1).dedup_key])

    assert [h.dedup_key for h in memory.held("gateway-a", limit=10)] == [taken(3).dedup_key]
    assert memory.taken([taken(1).dedup_key]) == {taken(1).dedup_key}  # still remembered


def test_purge_forgets_by_age_but_never_a_held_report(database: Database) -> None:
    memory = TakenReportRepository(database)
    memory.add_batch(
        [
            taken(1, seconds=0),
            taken(2, seconds=10, held_by="gateway-a", report=b"held"),
            taken(3, seconds=20),
            taken(4, seconds=30),
        ]
    )

    forgotten = memory.purge(before=T0 + timedelta(seconds=25), keep_at_most=100)

    assert forgotten == 2
    keys = [taken(n).dedup_key for n in (1, 2, 3, 4)]
    assert memory.taken(keys) == {taken(2).dedup_key, taken(4).dedup_key}


def test_purge_keeps_no_more_than_its_bound_forgetting_the_oldest(database: Database) -> None:
    memory = TakenReportRepository(database)
    for n in range(1, 8):
        memory.add_batch([taken(n, seconds=n)])

    forgotten = memory.purge(before=T0, keep_at_most=3)

    assert forgotten == 4
    assert memory.count() == 3
    assert memory.taken(taken(n).dedup_key for n in range(1, 8)) == {
        taken(n).dedup_key for n in (5, 6, 7)
    }
    assert memory.purge(before=T0, keep_at_most=3) == 0
