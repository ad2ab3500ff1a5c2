"""Dispatch on NATS JetStream: messages in, results out, a routing table applied, all acked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from dispatch_helpers import (
    T0,
    EventReader,
    ScriptedSupplier,
    accepted,
    failed,
    message,
    publish_messages,
    route,
    running,
    settings_for,
    settled,
    wait_for,
)

from sendtier.dispatch import encode_routing_table
from smsplatform.bus import ROUTING, JetStreamBus
from smsplatform.clock import SystemClock
from smsplatform.contracts import Route, RouteEntry, RoutingTable
from suppliers.base import SubmitErrorClass, SubmitOutcome, SubmitRequest


@pytest.fixture
async def bus(nats_url: str, unique_name: str) -> AsyncIterator[JetStreamBus]:
    jetstream = JetStreamBus(nats_url, stream=unique_name, namespace=unique_name)
    await jetstream.start()
    try:
        yield jetstream
    finally:
        await jetstream.delete_stream()
        await jetstream.close()


async def test_dispatch_over_jetstream_retries_elsewhere_and_follows_a_new_table(
    bus: JetStreamBus,
) -> None:
    clock = SystemClock()
    settings = settings_for(
        [route("*", "otp", {"alpha": 1, "beta": 0})], {"alpha": {}, "beta": {}, "gamma": {}}
    )

    def alpha_fails_even_numbers(request: SubmitRequest) -> SubmitOutcome:
        if int(request.message_id[-1]) % 2 == 0:
            return failed(SubmitErrorClass.RETRIABLE, "isp.SYSTEM_ERROR")
        return accepted(f"a-{request.message_id}")

    alpha = ScriptedSupplier("alpha", clock, script=alpha_fails_even_numbers)
    beta, gamma = ScriptedSupplier("beta", clock), ScriptedSupplier("gamma", clock)
    reader = EventReader(bus)
    async with running(settings, bus, [alpha, beta, gamma], clock=clock) as dispatcher:
        await publish_messages(bus, [message(n) for n in range(1, 5)])
        await reader.collect(results=6, timeout=10)
        await settled(bus, timeout=10)

        table = RoutingTable(
            version=2,
            at=T0,
            routes=[
                Route(
                    carrier="cmcc",
                    message_class="otp",
                    suppliers=[
                        RouteEntry(supplier="alpha", state="ejected", weight=1),
                        RouteEntry(supplier="gamma", state="active", weight=1),
                    ],
                )
            ],
        )
        await bus.publish(ROUTING, encode_routing_table(table))
        await wait_for(lambda: dispatcher.routing_table.version == 2, timeout=5)
        await publish_messages(bus, [message(5)])
        await reader.collect(results=7, timeout=10)
        await settled(bus, timeout=10)

    outcomes = {(r.message_id, r.attempt): (r.supplier, r.accepted) for r in reader.results}
    assert outcomes == {
        ("msg-00001", 1): ("alpha", True),
        ("msg-00002", 1): ("alpha", False),
        ("msg-00002", 2): ("beta", True),
        ("msg-00003", 1): ("alpha", True),
        ("msg-00004", 1): ("alpha", False),
        ("msg-00004", 2): ("beta", True),
        ("msg-00005", 1): ("gamma", True),
    }
