"""Storage for the send tier (migration 0002): submit correlation, orphan receipts, statuses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from sendtier.storage import (
    SENDTIER_HISTORY,
    Database,
    MessageRepository,
    OrphanReceipt,
    OrphanReceiptRepository,
    StoredMessage,
    SubmitResultRepository,
)
from smsplatform.contracts import SubmitResult
from smsplatform.database.engine import MigrationHistory

T0 = datetime(2026, 5, 4, 9, 0, 0, 250000, tzinfo=UTC)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.upgrade(SENDTIER_HISTORY)
    yield db
    db.dispose()


def submit(n: int, **changes: Any) -> SubmitResult:
    fields: dict[str, Any] = {
        "message_id": f"m-{n}",
        "supplier": "aliyun-main",
        "carrier": "cmcc",
        "message_class": "otp",
        "accepted": True,
        "latency_ms": 41.5,
        "at": T0 + timedelta(milliseconds=n),
        "supplier_message_id": f"biz-{n}",
        "attempt": 1,
    }
    return SubmitResult(**{**fields, **changes})


def orphan(n: int, **changes: Any) -> OrphanReceipt:
    fields: dict[str, Any] = {
        "supplier": "twilio-us",
        "supplier_message_id": f"SM{n:032x}",
        "raw_status": "delivered",
        "received_at": T0 + timedelta(seconds=n),
        "reason": "uncorrelated",
        "status": "DELIVERED",
        "reported_at": T0,
        "fields": {"phone": "+8613800000001"},
    }
    return OrphanReceipt(**{**fields, **changes})


def message(n: int) -> StoredMessage:
    return StoredMessage(
        id=f"m-{n}",
        tenant="shop",
        phone="+8613800000001",
        carrier="cmcc",
        message_class="otp",
        template_id="login",
        content="【商城】您的验证码是1234",
        segments=1,
        created_at=T0,
    )


def test_submit_results_keep_supplier_id_attempt_and_error_class(database: Database) -> None:
    submits = SubmitResultRepository(database)
    failed = submit(
        1,
        supplier="tencent-main",
        accepted=False,
        supplier_message_id=None,
        error_code="RequestLimitExceeded",
        error_class="throttled",
    )
    retried = submit(1, attempt=2, at=T0 + timedelta(seconds=1))

    submits.add_batch([failed, retried])

    assert submits.for_message("m-1") == [failed, retried]


def test_the_accepted_submit_is_found_by_the_suppliers_id(database: Database) -> None:
    submits = SubmitResultRepository(database)
    accepted = submit(7)
    refused = submit(8, accepted=False, supplier_message_id="biz-8", error_code="isv.X")
    submits.add_batch([accepted, refused, submit(9, supplier="other", supplier_message_id="biz-7")])

    assert submits.find_by_supplier_id("aliyun-main", "biz-7") == accepted
    assert submits.find_by_supplier_id("aliyun-main", "biz-8") is None
    assert submits.find_by_supplier_id("aliyun-main", "biz-404") is None
    assert submits.find_accepted_for_messages("aliyun-main", ["m-7", "m-8", "m-9"]) == {
        "m-7": accepted
    }


def test_supplier_ids_are_looked_up_in_bulk_beyond_one_chunk(database: Database) -> None:
    submits = SubmitResultRepository(database)
    submits.add_batch([submit(n) for n in range(1200)])

    found = submits.find_by_supplier_ids("aliyun-main", [f"biz-{n}" for n in range(0, 1300, 2)])

    assert len(found) == 600
    assert found["biz-1198"].message_id == "m-1198"


def test_a_report_pushed_twice_is_kept_as_one_orphan(database: Database) -> None:
    orphans = OrphanReceiptRepository(database)
    first = orphan(1)
    again = orphan(1, received_at=T0 + timedelta(minutes=5), reason="buffer_full")

    orphans.add_batch([first, orphan(2, supplier="aliyun-main", status=None, reported_at=None)])
    orphans.add_batch([again])

    assert orphans.count() == 2
    assert orphans.count(supplier="twilio-us") == 1
    assert orphans.count(reason="buffer_full") == 0
    newest_first = orphans.recent()
    assert [o.supplier_message_id for o in newest_first] == [
        orphan(2).supplier_message_id,
        first.supplier_message_id,
    ]
    assert newest_first[1] == first


def test_a_first_final_status_is_not_replaced_by_a_later_write(database: Database) -> None:
    messages = MessageRepository(database)
    messages.add_batch([message(1), message(2), message(3)])
    messages.set_statuses_unless_final([("m-1", "DELIVERED", T0), ("m-2", "UNKNOWN", T0)])

    changed = messages.set_statuses_unless_final(
        [("m-1", "FAILED", T0), ("m-2", "EXPIRED", T0), ("m-404", "FAILED", T0)]
    )

    assert changed == 1
    assert messages.statuses(["m-1", "m-2", "m-3", "m-404"]) == {
        "m-1": "DELIVERED",
        "m-2": "EXPIRED",
        "m-3": None,
    }


# The migrations as they stood when one history created every table (tests/storage keeps them).
OLD_HISTORY = MigrationHistory(
    name="combined",
    directory=Path(__file__).resolve().parents[1] / "storage" / "legacy_combined_migrations",
    version_table="alembic_version",
)


def test_rows_written_before_0002_get_attempt_1(database_url: str) -> None:
    database = Database(database_url)
    database.upgrade(OLD_HISTORY, "0001")
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO submit_results (message_id, supplier, carrier, message_class, "
                "accepted, error_code, latency_ms, at) VALUES "
                "('old-1', 'aliyun-main', 'cmcc', 'otp', 1, NULL, 3.5, "
                "'2026-05-04 09:00:00.000000')"
            )
        )

    database.upgrade(SENDTIER_HISTORY)

    [stored] = SubmitResultRepository(database).for_message("old-1")
    assert (stored.attempt, stored.supplier_message_id, stored.error_class) == (1, None, None)
    indexes = {ix["name"] for ix in inspect(database.engine).get_indexes("submit_results")}
    assert "ix_submit_results_supplier_supplier_message_id" in indexes
    database.dispose()
