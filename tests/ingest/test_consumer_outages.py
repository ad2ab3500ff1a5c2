"""Storage consumers through bus outages: they keep going, and /healthz says when they cannot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from ingest_helpers import INGEST_TOKEN, NDJSON, auth, ndjson, receipt, settings_for

from controlplane.service import ControlPlane
from controlplane.storage import Database, ReceiptArchive
from controlplane.web.app import create_app
from smsplatform.bus import RECEIPTS
from smsplatform.clock import Clock, ManualClock, system_clock
from tests.bus.faulty_bus import FaultyBus

PERSIST_RECEIPTS = "persist-receipts"


@contextmanager
def running_on(
    bus: FaultyBus, database_url: str, clock: Clock = system_clock
) -> Iterator[tuple[TestClient, ControlPlane]]:
    asyncio.run(bus.start())
    service = ControlPlane(settings_for(database_url), environ={}, clock=clock, bus=bus)
    with TestClient(create_app(service)) as client:
        yield client, service


def eventually(check: Callable[[], Any], within: float = 10.0) -> Any:
    give_up_at = time.monotonic() + within
    while not (outcome := check()):
        assert time.monotonic() < give_up_at, "condition never held"
        time.sleep(0.05)
    return outcome


def post_receipts(client: TestClient, first: int, count: int) -> None:
    answer = client.post(
        "/v1/events/receipts",
        content=ndjson([receipt(n) for n in range(first, first + count)]),
        headers={**NDJSON, **auth(INGEST_TOKEN)},
    )
    assert answer.status_code == 202


def test_the_persister_keeps_storing_after_a_failed_fetch(sqlite_url: str) -> None:
    bus = FaultyBus()
    stored = ReceiptArchive(Database(sqlite_url))
    with running_on(bus, sqlite_url) as (client, _):
        bus.fail_next_fetches(3, durable=PERSIST_RECEIPTS)
        eventually(lambda: bus.failed_fetches[PERSIST_RECEIPTS] == 3)

        post_receipts(client, 0, 50)

        eventually(lambda: stored.count() == 50)
        health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["consumers"][PERSIST_RECEIPTS]["errors"]["fetch"] == 3


def test_an_unreadable_message_is_dropped_and_the_receipts_after_it_are_stored(
    sqlite_url: str,
) -> None:
    bus = FaultyBus()
    stored = ReceiptArchive(Database(sqlite_url))
    with running_on(bus, sqlite_url) as (client, _):
        client.portal.call(bus.publish, RECEIPTS, b"\xc1 not msgpack")  # type: ignore[union-attr]

        post_receipts(client, 0, 20)

        eventually(lambda: stored.count() == 20)
        metrics = client.get("/metrics").text
    assert f'smsctl_consumer_poison_messages_total{{consumer="{PERSIST_RECEIPTS}"}} 1.0' in metrics


def test_a_persister_that_cannot_fetch_is_named_by_healthz_until_the_bus_is_back(
    sqlite_url: str,
) -> None:
    bus = FaultyBus()
    clock = ManualClock()
    stored = ReceiptArchive(Database(sqlite_url))
    with running_on(bus, sqlite_url, clock) as (client, _):
        bus.fail_fetches(PERSIST_RECEIPTS)
        post_receipts(client, 0, 10)
        eventually(lambda: bus.failed_fetches[PERSIST_RECEIPTS] >= 2)

        clock.advance(120)  # past bus.consumer_stuck_after_s (60 s)
        # Every other consumer completes a fetch on the moved clock within a fetch timeout.
        outage = eventually(
            lambda: (
                (answer := client.get("/healthz")).json().get("failing_consumers")
                == [PERSIST_RECEIPTS]
                and answer
            )
        )
        metrics = client.get("/metrics").text

        bus.heal()
        eventually(lambda: stored.count() == 10)
        recovered = eventually(lambda: (answer := client.get("/healthz")).is_success and answer)

    assert outage.status_code == 503
    body = outage.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["consumers"] is False
    assert body["consumers"][PERSIST_RECEIPTS]["state"] == "stuck"
    assert "connection closed" in body["consumers"][PERSIST_RECEIPTS]["last_error"]
    assert f'smsctl_consumer_up{{consumer="{PERSIST_RECEIPTS}"}} 0.0' in metrics
    assert 'smsctl_consumer_up{consumer="windows-receipts"} 1.0' in metrics
    assert recovered.json()["consumers"][PERSIST_RECEIPTS]["state"] == "up"
