"""The dispatcher's HTTP endpoints: health, metrics, and the routing table in force."""

from __future__ import annotations

import httpx
from dispatch_helpers import (
    T0,
    EventReader,
    ScriptedSupplier,
    message,
    publish_messages,
    route,
    running,
    settings_for,
    wait_for,
)

from sendtier.dispatch import create_dispatch_app, encode_routing_table
from smsplatform.bus import ROUTING, MemoryBus
from smsplatform.clock import ManualClock
from smsplatform.contracts import Route, RouteEntry, RoutingTable


async def test_endpoints_show_health_metrics_and_the_routing_table() -> None:
    clock = ManualClock(T0)
    bus = MemoryBus(clock=clock)
    await bus.start()
    settings = settings_for([route("*", "otp", {"alpha": 1})], {"alpha": {}})
    alpha = ScriptedSupplier("alpha", clock)
    reader = EventReader(bus)
    async with running(settings, bus, [alpha], clock=clock) as dispatcher:
        app = create_dispatch_app(dispatcher)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dispatch") as client:
            await publish_messages(bus, [message(1)])
            await reader.collect(results=1)
            table = RoutingTable(
                version=4,
                at=T0,
                routes=[
                    Route(
                        carrier="cmcc",
                        message_class="otp",
                        suppliers=[RouteEntry(supplier="alpha", state="active", weight=2.5)],
                    )
                ],
                changed_by="ops",
            )
            await bus.publish(ROUTING, encode_routing_table(table))
            await wait_for(lambda: dispatcher.routing_table.version == 4)

            health = await client.get("/healthz")
            metrics = await client.get("/metrics")
            routing = await client.get("/v1/routing")
    await bus.close()

    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["checks"] == {"bus": True, "consuming": True, "consumers": True}
    assert sorted(health.json()["consumers"]) == ["dispatch", "dispatch-routing"]
    assert (
        'smsctl_dispatch_submits_total{carrier="cmcc",result="accepted",supplier="alpha"} 1.0'
        in metrics.text
    )
    assert "smsctl_dispatch_routing_table_version 4.0" in metrics.text
    assert 'smsctl_dispatch_submit_latency_seconds_count{supplier="alpha"} 1.0' in metrics.text
    assert routing.json()["version"] == 4
    assert routing.json()["routes"][0]["suppliers"] == [
        {"supplier": "alpha", "state": "active", "weight": 2.5}
    ]


async def test_health_is_unhealthy_once_the_dispatcher_stopped() -> None:
    clock = ManualClock(T0)
    bus = MemoryBus(clock=clock)
    await bus.start()
    settings = settings_for([route("*", "otp", {"alpha": 1})], {"alpha": {}})
    async with running(settings, bus, [ScriptedSupplier("alpha", clock)], clock=clock) as d:
        await d.stop()
        transport = httpx.ASGITransport(app=create_dispatch_app(d))
        async with httpx.AsyncClient(transport=transport, base_url="http://dispatch") as client:
            health = await client.get("/healthz")
    await bus.close()

    assert health.status_code == 503
    assert health.json()["checks"]["consuming"] is False
