"""The persistence service: each kind stored once under redelivery, statuses, and its app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import msgspec
import pytest
from fastapi.testclient import TestClient
from persist_helpers import (
    ACK_WAIT_S,
    T0,
    metric,
    outbound,
    receipt,
    running,
    settings_for,
    submit_result,
)

from sendtier.persist import PersistService, create_persist_app
from sendtier.storage import (
    SENDTIER_HISTORY,
    Database,
    MessageRepository,
    ReceiptRepository,
    SubmitResultRepository,
)
from smsplatform.bus import RECEIPTS, SUBMIT, SUBMITTED, MemoryBus
from smsplatform.clock import ManualClock
from smsplatform.contracts import encode_batch
from tests.bus.faulty_bus import FaultyBus


@pytest.fixture
def bus_clock() -> ManualClock:
    """The bus's clock: moving it past ack_wait redelivers what was not acked."""
    return ManualClock(T0)


@pytest.fixture
async def bus(bus_clock: ManualClock) -> AsyncIterator[MemoryBus]:
    memory_bus = MemoryBus(clock=bus_clock)
    await memory_bus.start()
    yield memory_bus
    await memory_bus.close()


@pytest.fixture
def database(database_url: str) -> Database:
    db = Database(database_url)
    db.upgrade(SENDTIER_HISTORY)
    return db


async def test_each_kind_is_stored_once_when_delivered_twice_and_redelivered(
    database: Database, bus: MemoryBus, bus_clock: ManualClock
) -> None:
    settings = settings_for(str(database.url))
    # sms.submit: the API's one bare message per bus message, and a list; one published twice.
    for n in range(3):
        await bus.publish(SUBMIT, msgspec.msgpack.encode(outbound(n)))
    await bus.publish(SUBMIT, msgspec.msgpack.encode(outbound(0)))
    await bus.publish(SUBMIT, encode_batch([outbound(3), outbound(4)]))  # type: ignore[type-var]
    for _ in range(2):
        await bus.publish(SUBMITTED, encode_batch([submit_result(n) for n in range(5)]))
        await bus.publish(RECEIPTS, encode_batch([receipt(n) for n in range(5)]))
    # A consumer that died before acking: everything comes back once ack_wait has passed.
    for subject, kind in ((SUBMIT, "messages"), (SUBMITTED, "submits"), (RECEIPTS, "receipts")):
        dead = await bus.subscribe(subject, f"sendtier-persist-{kind}", ack_wait=ACK_WAIT_S)
        assert await dead.fetch(100, 0) != []
        await dead.close()
    bus_clock.advance(ACK_WAIT_S + 1)

    async with running(settings, bus, database, ManualClock(T0)) as service:
        pass

    assert MessageRepository(database).count() == 5
    assert SubmitResultRepository(database).count() == 5
    assert ReceiptRepository(database).count() == 5
    assert SubmitResultRepository(database).for_message("m-00003") == [submit_result(3)]
    stored = MessageRepository(database).get("m-00004")
    assert stored is not None
    assert (stored.content, stored.created_at) == (outbound(4).content, outbound(4).accepted_at)
    assert (stored.last_status, stored.updated_at) == ("DELIVERED", receipt(4).reported_at)
    assert metric(service, "sendtier_persist_events_total", kind="receipts") == 10
    assert metric(service, "sendtier_persist_rows_total", table="messages") >= 5
    assert metric(service, "sendtier_persist_batch_events_count", kind="submits") >= 1


async def test_the_first_final_status_wins_and_a_later_final_is_a_conflict(
    database: Database, bus: MemoryBus
) -> None:
    settings = settings_for(str(database.url))
    clock = ManualClock(T0)
    await bus.publish(SUBMIT, encode_batch([outbound(n) for n in range(3)]))  # type: ignore[type-var]
    await bus.publish(
        RECEIPTS, encode_batch([receipt(0, "DELIVERED", seconds=9), receipt(1, "UNKNOWN")])
    )
    async with running(settings, bus, database, clock):
        pass
    # Later: m-0 reported FAILED (even with an earlier report time), m-1's late final arrives.
    await bus.publish(
        RECEIPTS, encode_batch([receipt(0, "FAILED", seconds=3), receipt(1, "EXPIRED")])
    )

    async with running(settings, bus, database, clock) as service:
        pass

    statuses = MessageRepository(database).statuses(["m-00000", "m-00001", "m-00002"])
    assert statuses == {"m-00000": "DELIVERED", "m-00001": "EXPIRED", "m-00002": None}
    assert metric(service, "sendtier_persist_status_conflicts_total") == 1
    # Both reports are kept as receipts: the conflict is visible, not lost.
    assert [r.status for r in ReceiptRepository(database).for_message("m-00000")] == [
        "FAILED",
        "DELIVERED",
    ]


async def test_a_receipt_stored_before_its_message_sets_the_status_when_the_message_comes(
    database: Database, bus: MemoryBus
) -> None:
    settings = settings_for(str(database.url))
    clock = ManualClock(T0)
    await bus.publish(RECEIPTS, encode_batch([receipt(5, "REJECTED")]))
    async with running(settings, bus, database, clock):
        pass
    assert MessageRepository(database).get("m-00005") is None

    await bus.publish(SUBMIT, msgspec.msgpack.encode(outbound(5)))
    async with running(settings, bus, database, clock):
        pass

    stored = MessageRepository(database).get("m-00005")
    assert stored is not None
    assert (stored.last_status, stored.updated_at) == ("REJECTED", T0 + timedelta(seconds=5))


async def test_a_payload_that_fits_no_contract_is_counted_and_skipped(
    database: Database, bus: MemoryBus
) -> None:
    settings = settings_for(str(database.url))
    await bus.publish(RECEIPTS, b"\x93not a receipt")
    await bus.publish(RECEIPTS, encode_batch([receipt(1)]))

    async with running(settings, bus, database, ManualClock(T0)) as service:
        pass

    assert ReceiptRepository(database).count() == 1
    assert metric(service, "sendtier_persist_undecodable_total", kind="receipts") == 1
    assert await bus.pending(RECEIPTS, "sendtier-persist-receipts") == 0


def test_the_app_reports_health_and_metrics(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    database.upgrade(SENDTIER_HISTORY)
    bus = MemoryBus()
    asyncio.run(bus.start())
    service = PersistService(settings_for(sqlite_url), bus, database)
    with TestClient(create_persist_app(service)) as client:
        health = client.get("/healthz")
        scrape = client.get("/metrics")

    assert health.status_code == 200
    assert health.json()["checks"] == {"database": True, "bus": True, "consumers": True}
    assert 'sendtier_persist_bus_pending{subject="sms.receipts"} 0.0' in scrape.text
    assert 'sendtier_persist_degradation_level{level="normal"} 1.0' in scrape.text
    assert "sendtier_persist_degradation_version 0.0" in scrape.text


def test_the_app_counts_requests_by_route_template_and_code(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    database.upgrade(SENDTIER_HISTORY)
    bus = MemoryBus()
    asyncio.run(bus.start())
    service = PersistService(settings_for(sqlite_url), bus, database)
    with TestClient(create_persist_app(service)) as client:
        client.get("/healthz")
        client.get("/nowhere")
        scrape = client.get("/metrics")

    requests = "sendtier_persist_http_requests_total"
    assert f'{requests}{{code="200",route="/healthz"}} 1.0' in scrape.text
    assert f'{requests}{{code="404",route="unmatched"}} 1.0' in scrape.text


def test_a_storage_consumer_the_bus_keeps_failing_is_named_by_healthz_and_metrics(
    sqlite_url: str,
) -> None:
    database = Database(sqlite_url)
    database.upgrade(SENDTIER_HISTORY)
    bus = FaultyBus()
    asyncio.run(bus.start())
    clock = ManualClock(T0)
    service = PersistService(settings_for(sqlite_url), bus, database, clock)
    durable = "sendtier-persist-receipts"
    with TestClient(create_persist_app(service)) as client:
        bus.fail_fetches(durable)
        client.portal.call(bus.publish, RECEIPTS, encode_batch([receipt(1)]))  # type: ignore[union-attr]
        deadline = time.monotonic() + 5
        while bus.failed_fetches[durable] < 2:
            assert time.monotonic() < deadline, "the consumer stopped fetching"
            time.sleep(0.01)
        clock.advance(120)
        time.sleep(1.0)  # every other consumer completes a fetch on the moved clock
        health = client.get("/healthz")
        scrape = client.get("/metrics").text
        bus.heal()
        deadline = time.monotonic() + 10
        while ReceiptRepository(database).count() < 1:
            assert time.monotonic() < deadline, "the receipt was never stored"
            time.sleep(0.05)
        while (recovered := client.get("/healthz")).status_code != 200:
            assert time.monotonic() < deadline, recovered.json()
            time.sleep(0.05)

    assert health.status_code == 503
    assert health.json()["failing_consumers"] == [durable]
    assert f'sendtier_persist_consumer_up{{consumer="{durable}"}} 0.0' in scrape
    assert 'sendtier_persist_consumer_up{consumer="sendtier-persist-submits"} 1.0' in scrape
    assert recovered.json()["consumers"][durable]["state"] == "up"
