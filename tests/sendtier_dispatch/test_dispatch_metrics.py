"""The dispatcher's /metrics: requests by route and code, and the sms.submit backlog."""

from __future__ import annotations

import asyncio

import httpx
from dispatch_helpers import (
    T0,
    ScriptedSupplier,
    message,
    publish_messages,
    route,
    running,
    settings_for,
    settled,
    wait_for,
)

from sendtier.dispatch import Dispatcher, create_dispatch_app
from smsplatform.bus import MemoryBus
from smsplatform.clock import ManualClock


async def scrape(client: httpx.AsyncClient) -> str:
    return (await client.get("/metrics")).text


def client_of(dispatcher: Dispatcher) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_dispatch_app(dispatcher))
    return httpx.AsyncClient(transport=transport, base_url="http://dispatch")


async def test_requests_are_counted_by_route_template_and_code() -> None:
    clock = ManualClock(T0)
    bus = MemoryBus(clock=clock)
    await bus.start()
    settings = settings_for([route("*", "otp", {"alpha": 1})], {"alpha": {}})
    alpha = ScriptedSupplier("alpha", clock)
    async with (
        running(settings, bus, [alpha], clock=clock) as dispatcher,
        client_of(dispatcher) as client,
    ):
        await client.get("/v1/routing")
        await client.get("/v1/routing")
        await client.get("/nowhere")
        metrics = await scrape(client)
    await bus.close()

    requests = "sendtier_dispatch_http_requests_total"
    assert f'{requests}{{code="200",route="/v1/routing"}} 2.0' in metrics
    assert f'{requests}{{code="404",route="unmatched"}} 1.0' in metrics


async def test_messages_waiting_for_a_free_slot_show_as_sms_submit_backlog() -> None:
    clock = ManualClock(T0)
    bus = MemoryBus(clock=clock)
    await bus.start()
    settings = settings_for([route("*", "otp", {"alpha": 1})], {"alpha": {}}, max_in_flight=1)
    gate = asyncio.Event()
    alpha = ScriptedSupplier("alpha", clock, gate=gate)
    pending = 'sendtier_dispatch_bus_pending{subject="sms.submit"}'
    async with (
        running(settings, bus, [alpha], clock=clock) as dispatcher,
        client_of(dispatcher) as client,
    ):
        await publish_messages(bus, [message(n) for n in range(3)])
        await wait_for(alpha.started.is_set)
        # One message at the supplier (not acked yet), two waiting for its slot.
        held = await scrape(client)
        gate.set()
        await settled(bus)
        drained = await scrape(client)
    await bus.close()

    assert f"{pending} 3.0" in held
    assert f"{pending} 0.0" in drained
