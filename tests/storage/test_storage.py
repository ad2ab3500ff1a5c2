"""Storage: migrations, idempotent batched writes and reads, on SQLite and on MariaDB."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, event, inspect

from controlplane.storage import CONTROL_PLANE_HISTORY, ProbeResultRepository, SupplierLogRepository
from controlplane.storage.models import Base as ControlPlaneBase
from sendtier.storage import (
    SENDTIER_HISTORY,
    Database,
    MessageRepository,
    ReceiptRepository,
    StoredMessage,
    SubmitResultRepository,
)
from sendtier.storage.models import Base as SendTierBase
from smsplatform.contracts import ProbeResult, Receipt, SubmitResult, SupplierLog
from smsplatform.database.batch import CHUNK_ROWS
from smsplatform.database.engine import MigrationHistory

T0 = datetime(2026, 3, 1, 8, 30, 0, 123456, tzinfo=UTC)
# Each owner's history creates its own tables, and only those.
OWNED: list[tuple[MigrationHistory, MetaData]] = [
    (CONTROL_PLANE_HISTORY, ControlPlaneBase.metadata),
    (SENDTIER_HISTORY, SendTierBase.metadata),
]


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated database on the backend under test."""
    db = Database(database_url)
    for history, _ in OWNED:
        db.upgrade(history)
    yield db
    db.dispose()


def receipt(n: int, status: str = "DELIVERED", **changes: Any) -> Receipt:
    fields: dict[str, Any] = {
        "message_id": f"msg-{n:06d}",
        "supplier": ("aliyun", "tencent")[n % 2],
        "carrier": "cmcc",
        "message_class": "otp",
        "status": status,
        "submitted_at": T0 + timedelta(microseconds=n),
        "reported_at": T0 + timedelta(seconds=3, microseconds=n),
        "raw_status": "DELIVRD",
        "error_code": None,
        "received_at": T0 + timedelta(seconds=4, microseconds=7),
    }
    return Receipt(**{**fields, **changes})


def submit_result(n: int, **changes: Any) -> SubmitResult:
    fields: dict[str, Any] = {
        "message_id": f"msg-{n:06d}",
        "supplier": "aliyun",
        "carrier": "cucc",
        "message_class": "notification",
        "accepted": n % 3 != 0,
        "latency_ms": 12.5 + n,
        "at": T0 + timedelta(milliseconds=n),
        "error_code": None if n % 3 else "isv.BUSINESS_LIMIT_CONTROL",
    }
    return SubmitResult(**{**fields, **changes})


def count_inserts(database: Database) -> list[str]:
    """INSERT statements the engine sends from now on."""
    inserts: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement)

    event.listen(database.engine, "before_cursor_execute", before)
    return inserts


@pytest.mark.parametrize(("history", "metadata"), OWNED, ids=[h.name for h, _ in OWNED])
def test_each_history_creates_its_own_tables_and_a_second_upgrade_changes_nothing(
    database_url: str, history: MigrationHistory, metadata: MetaData
) -> None:
    database = Database(database_url)
    head = ScriptDirectory.from_config(database.alembic_config(history)).get_current_head()
    assert database.current_revision(history) is None
    database.upgrade(history)
    assert database.current_revision(history) == head
    tables = set(inspect(database.engine).get_table_names())
    assert tables - {history.version_table} == set(metadata.tables)

    database.upgrade(history)

    assert database.current_revision(history) == head
    database.dispose()


def test_a_second_upgrade_keeps_the_rows(database: Database) -> None:
    ReceiptRepository(database).add_batch([receipt(1)])
    for history, _ in OWNED:
        database.upgrade(history)
    assert ReceiptRepository(database).count() == 1


@pytest.mark.parametrize(("history", "metadata"), OWNED, ids=[h.name for h, _ in OWNED])
def test_the_hand_written_migrations_match_the_models(
    database: Database, history: MigrationHistory, metadata: MetaData
) -> None:
    def owned(name: str | None, kind: str, _parent: Any) -> bool:
        return kind != "table" or name in metadata.tables

    with database.engine.connect() as connection:
        opts = {"compare_type": True, "include_name": owned}
        context = MigrationContext.configure(connection, opts=opts)
        assert compare_metadata(context, metadata) == []


def test_a_batch_of_receipts_reads_back_equal_with_microseconds_in_utc(
    database: Database,
) -> None:
    beijing = timezone(timedelta(hours=8))
    sent = [
        receipt(1),
        receipt(2, status="FAILED", raw_status="UNDELIV", error_code="E042", received_at=None),
        receipt(3, reported_at=datetime(2026, 3, 1, 16, 30, 5, 999999, tzinfo=beijing)),
    ]
    receipts = ReceiptRepository(database)

    receipts.add_batch(sent)

    stored = [r for n in (1, 2, 3) for r in receipts.for_message(f"msg-{n:06d}")]
    assert stored == sent
    assert stored[2].reported_at == datetime(2026, 3, 1, 8, 30, 5, 999999, tzinfo=UTC)
    assert all(r.reported_at.tzinfo is UTC and r.submitted_at.tzinfo is UTC for r in stored)
    assert stored[0].submitted_at.microsecond == 123457
    assert stored[1].received_at is None


def test_the_same_batch_written_twice_is_stored_once(database: Database) -> None:
    batch = [receipt(n) for n in range(50)]
    receipts = ReceiptRepository(database)

    receipts.add_batch(batch)
    receipts.add_batch(batch)

    assert receipts.count() == 50


def test_a_redelivered_receipt_is_stored_once_and_a_new_status_is_a_second_row(
    database: Database,
) -> None:
    receipts = ReceiptRepository(database)
    receipts.add_batch([receipt(7, status="UNKNOWN")])

    # The redelivery differs in its times but not in (message id, status): still a duplicate.
    redelivered = receipt(7, status="UNKNOWN", received_at=T0 + timedelta(minutes=5))
    receipts.add_batch([redelivered, receipt(7, status="DELIVERED"), receipt(7, "DELIVERED")])

    assert sorted(r.status for r in receipts.for_message("msg-000007")) == ["DELIVERED", "UNKNOWN"]
    assert receipts.count() == 2


def test_message_ids_that_differ_only_in_case_are_two_messages(database: Database) -> None:
    receipts = ReceiptRepository(database)

    receipts.add_batch([receipt(1, message_id="AbC-1"), receipt(1, message_id="abc-1")])

    assert receipts.count() == 2


def test_a_batch_of_2000_receipts_takes_one_insert_per_chunk_in_one_transaction(
    database: Database,
) -> None:
    receipts = ReceiptRepository(database)
    inserts = count_inserts(database)
    commits: list[object] = []
    event.listen(database.engine, "commit", commits.append)

    receipts.add_batch([receipt(n) for n in range(2000)])

    assert len(inserts) <= math.ceil(2000 / CHUNK_ROWS)
    assert len(commits) == 1
    assert receipts.count() == 2000
    assert receipts.for_message("msg-001999") == [receipt(1999)]


def test_receipts_of_a_supplier_are_read_by_report_time(database: Database) -> None:
    receipts = ReceiptRepository(database)
    receipts.add_batch([receipt(n) for n in range(10)])

    window = receipts.for_supplier(
        "aliyun",
        since=T0 + timedelta(seconds=3, microseconds=2),
        until=T0 + timedelta(seconds=3, microseconds=8),
    )

    assert [r.message_id for r in window] == ["msg-000002", "msg-000004", "msg-000006"]


def test_codes_longer_than_their_column_are_cut_not_rejected(database: Database) -> None:
    receipts = ReceiptRepository(database)

    receipts.add_batch([receipt(1, raw_status="R" * 400, error_code="E" * 300)])

    [stored] = receipts.for_message("msg-000001")
    assert (stored.raw_status, stored.error_code) == ("R" * 255, "E" * 128)


def test_a_naive_time_is_refused(database: Database) -> None:
    naive = receipt(1, reported_at=datetime(2026, 3, 1, 8, 30))

    with pytest.raises(ValueError, match="naive datetime"):
        ReceiptRepository(database).add_batch([naive])


def test_submit_results_are_stored_once_per_message_supplier_and_time(database: Database) -> None:
    results = SubmitResultRepository(database)
    batch = [submit_result(n) for n in range(6)]
    retry_elsewhere = submit_result(0, supplier="tencent")

    results.add_batch(batch)
    results.add_batch([*batch, retry_elsewhere])

    assert results.count() == 7
    assert results.for_message("msg-000000") == [batch[0], retry_elsewhere]
    assert results.for_message("msg-000004") == [batch[4]]


def test_supplier_logs_are_stored_once_per_event_and_read_newest_first(database: Database) -> None:
    logs = SupplierLogRepository(database)
    first = SupplierLog(
        supplier="aliyun",
        level="WARNING",
        code="BALANCE_LOW",
        text="balance below 1000",
        at=T0,
        fields={"balance": 999.5, "currency": "CNY", "nested": {"ids": [1, 2]}},
    )
    # The same event, fields in another order and the time in another zone: a duplicate.
    same = SupplierLog(
        supplier="aliyun",
        level="WARNING",
        code="BALANCE_LOW",
        text="balance below 1000",
        at=T0.astimezone(timezone(timedelta(hours=8))),
        fields={"nested": {"ids": [1, 2]}, "currency": "CNY", "balance": 999.5},
    )
    later = SupplierLog(supplier="aliyun", level="ERROR", code="THROTTLED", text="429", at=T0)
    other = SupplierLog(supplier="tencent", level="INFO", code="OK", text="ok", at=T0)

    logs.add_batch([first, later, other])
    logs.add_batch([same, later])

    assert logs.count() == 3
    assert logs.recent("aliyun", limit=10) == [later, first]
    assert logs.recent("aliyun", limit=1) == [later]


def test_probe_results_are_stored_once_per_probe_target_and_time(database: Database) -> None:
    probes = ProbeResultRepository(database)
    runs = [
        ProbeResult(
            probe="e2e-delivery",
            target="aliyun/cmcc",
            ok=n != 1,
            at=T0 + timedelta(seconds=30 * n),
            latency_ms=812.25,
            detail="" if n != 1 else "receipt not seen in 60s",
            labels={"supplier": "aliyun", "carrier": "cmcc"},
        )
        for n in range(3)
    ]

    probes.add_batch(runs)
    probes.add_batch(runs)

    assert probes.count() == 3
    assert probes.recent("e2e-delivery") == runs[::-1]
    assert probes.recent(target="nowhere") == []


def test_a_message_reads_back_and_a_replay_returns_the_first(database: Database) -> None:
    messages = MessageRepository(database)
    message = StoredMessage(
        id="m-1",
        tenant="acme",
        phone="+8613800138000",
        carrier="cmcc",
        message_class="otp",
        template_id="SMS_001",
        content="Your code is 123456",
        segments=1,
        created_at=T0,
        idempotency_key="order-42",
    )
    assert messages.add(message) == message

    replay_same_id = replace(message, content="sent again")
    replay_same_key = replace(message, id="m-2")
    other_tenant = replace(message, id="m-3", tenant="globex")

    assert messages.add(replay_same_id) == message
    assert messages.add(replay_same_key) == message
    assert messages.add(other_tenant) == other_tenant
    assert messages.get("m-1") == message
    assert messages.get("m-2") is None
    assert messages.by_idempotency_key("acme", "order-42") == message
    assert messages.count() == 2


def test_a_message_keeps_the_newest_reported_status(database: Database) -> None:
    messages = MessageRepository(database)
    messages.add_batch([_message("m-1"), _message("m-2")])

    assert messages.update_status("m-1", "DELIVERED", T0 + timedelta(seconds=5))
    assert not messages.update_status("m-1", "UNKNOWN", T0 + timedelta(seconds=1))

    stored = messages.get("m-1")
    assert stored is not None
    assert (stored.last_status, stored.updated_at) == ("DELIVERED", T0 + timedelta(seconds=5))
    assert messages.count() == 2


def test_ping_answers_true_when_the_database_is_up(database: Database) -> None:
    assert database.ping() is True


def test_ping_answers_false_when_the_database_is_down(database_url: str, tmp_path: Path) -> None:
    # A directory is not a database file; nothing listens on port 9 (discard).
    unreachable = (
        f"sqlite:///{tmp_path}"
        if database_url.startswith("sqlite")
        else "mysql+pymysql://root@127.0.0.1:9/none?connect_timeout=2"
    )

    assert Database(unreachable).ping() is False


def _message(message_id: str) -> StoredMessage:
    return StoredMessage(
        id=message_id,
        tenant="acme",
        phone="+8613800138000",
        carrier="cmcc",
        message_class="notification",
        template_id="SMS_002",
        content="Your parcel is on its way",
        segments=1,
        created_at=T0,
    )
