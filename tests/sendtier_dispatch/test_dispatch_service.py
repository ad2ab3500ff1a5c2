"""The dispatch service: limits, routing tables from the bus and the cache, at-least-once acks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from dispatch_helpers import (
    T0,
    ClockSleeper,
    EventReader,
    ScriptedSupplier,
    message,
    publish_messages,
    route,
    running,
    settings_for,
    settled,
    wait_for,
)

from sendtier.dispatch import encode_routing_table
from smsplatform.bus import ROUTING, SUBMIT, SUBMITTED, MemoryBus
from smsplatform.clock import ManualClock
from smsplatform.contracts import Route, RouteEntry, RoutingTable

TWO_SUPPLIERS: dict[str, dict[str, object]] = {"alpha": {}, "beta": {}}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def bus(clock: ManualClock) -> AsyncIterator[MemoryBus]:
    memory = MemoryBus(clock=clock)
    await memory.start()
    yield memory
    await memory.close()


def table_to(supplier: str, version: int) -> RoutingTable:
    return RoutingTable(
        version=version,
        at=T0,
        routes=[
            Route(
                carrier="*",
                message_class="otp",
                suppliers=[RouteEntry(supplier=supplier, state="pinned", weight=1)],
            )
        ],
        changed_by="cutover",
        reason=f"test: all OTP to {supplier}",
    )


async def test_submits_to_a_supplier_never_exceed_its_tps(
    bus: MemoryBus, clock: ManualClock
) -> None:
    settings = settings_for([route("*", "otp", {"alpha": 1})], {"alpha": {"tps": 10}})
    alpha = ScriptedSupplier("alpha", clock)
    reader = EventReader(bus)
    async with running(settings, bus, [alpha], clock=clock, sleep=ClockSleeper(clock)):
        await publish_messages(bus, [message(n) for n in range(30)])
        await reader.collect(results=30)
        await settled(bus)

    times = sorted(call.at for call in alpha.calls)
    # A one-token burst, then one submit per 0.1 s: 30 submits take 2.9 s of clock time.
    for start in times:
        assert sum(start <= t < start + 1.0 for t in times) <= 11
    assert times[-1] - times[0] == pytest.approx(2.9, abs=0.05)


async def test_concurrent_submits_to_a_supplier_never_exceed_its_max_concurrency(
    bus: MemoryBus, clock: ManualClock
) -> None:
    settings = settings_for([route("*", "otp", {"alpha": 1})], {"alpha": {"max_concurrency": 2}})
    alpha = ScriptedSupplier("alpha", clock, gate=asyncio.Event())
    reader = EventReader(bus)
    async with running(settings, bus, [alpha], clock=clock):
        await publish_messages(bus, [message(n) for n in range(6)])
        await wait_for(lambda: len(alpha.calls) == 2)
        await asyncio.sleep(0.05)
        assert len(alpha.calls) == 2
        assert alpha.gate is not None
        alpha.gate.set()
        await reader.collect(results=6)
        await settled(bus)


async def test_messages_in_flight_are_bounded_by_max_in_flight(
    bus: MemoryBus, clock: ManualClock
) -> None:
    settings = settings_for(
        [route("*", "otp", {"alpha": 1, "beta": 1})], TWO_SUPPLIERS, max_in_flight=3
    )
    gate = asyncio.Event()
    suppliers = [ScriptedSupplier(name, clock, gate=gate) for name in TWO_SUPPLIERS]
    async with running(settings, bus, suppliers, clock=clock) as dispatcher:
        await publish_messages(bus, [message(n) for n in range(10)])
        await wait_for(lambda: sum(len(s.calls) for s in suppliers) == 3)
        await asyncio.sleep(0.05)
        assert sum(len(s.calls) for s in suppliers) == 3
        assert dispatcher.metrics.registry.get_sample_value("smsctl_dispatch_in_flight") == 3
        gate.set()
        await settled(bus)


async def test_new_routing_table_from_the_bus_is_applied_and_older_ones_ignored(
    bus: MemoryBus, clock: ManualClock, tmp_path: Path
) -> None:
    cache = tmp_path / "state" / "routing.json"
    settings = settings_for(
        [route("*", "otp", {"alpha": 1})], TWO_SUPPLIERS, routing_cache_path=str(cache)
    )
    alpha, beta = (ScriptedSupplier(name, clock) for name in TWO_SUPPLIERS)
    reader = EventReader(bus)
    async with running(settings, bus, [alpha, beta], clock=clock) as dispatcher:
        await bus.publish(ROUTING, encode_routing_table(table_to("beta", 3)))
        await wait_for(lambda: dispatcher.routing_table.version == 3, timeout=1.0)
        await bus.publish(ROUTING, encode_routing_table(table_to("alpha", 2)))
        await publish_messages(bus, [message(1)])
        await reader.collect(results=1)
        await settled(bus)
        assert await bus.pending(ROUTING, "dispatch-routing") == 0

    assert beta.message_ids == ["msg-00001"] and alpha.calls == []
    assert dispatcher.routing_table.version == 3
    assert json.loads(cache.read_text())["version"] == 3


async def test_restart_without_the_control_plane_starts_from_the_cached_table(
    bus: MemoryBus, clock: ManualClock, tmp_path: Path
) -> None:
    cache = tmp_path / "routing.json"
    settings = settings_for(
        [route("*", "otp", {"alpha": 1})], TWO_SUPPLIERS, routing_cache_path=str(cache)
    )
    first_run = [ScriptedSupplier(name, clock) for name in TWO_SUPPLIERS]
    async with running(settings, bus, first_run, clock=clock) as dispatcher:
        await bus.publish(ROUTING, encode_routing_table(table_to("beta", 7)))
        await wait_for(lambda: dispatcher.routing_table.version == 7, timeout=1.0)
    await wait_for(cache.exists)

    # A new process: a fresh bus (the control plane's table is not on it), the same cache file.
    fresh_bus = MemoryBus(clock=clock)
    await fresh_bus.start()
    alpha, beta = (ScriptedSupplier(name, clock) for name in TWO_SUPPLIERS)
    reader = EventReader(fresh_bus)
    async with running(settings, fresh_bus, [alpha, beta], clock=clock) as restarted:
        assert restarted.routing_table.version == 7
        await publish_messages(fresh_bus, [message(2)])
        await reader.collect(results=1)
    await fresh_bus.close()

    assert beta.message_ids == ["msg-00002"] and alpha.calls == []


async def test_unreadable_cache_falls_back_to_the_configured_routes(
    bus: MemoryBus, clock: ManualClock, tmp_path: Path
) -> None:
    cache = tmp_path / "routing.json"
    cache.write_text("{not json")
    settings = settings_for(
        [route("*", "otp", {"alpha": 1})], TWO_SUPPLIERS, routing_cache_path=str(cache)
    )
    alpha, beta = (ScriptedSupplier(name, clock) for name in TWO_SUPPLIERS)
    async with running(settings, bus, [alpha, beta], clock=clock) as dispatcher:
        assert dispatcher.routing_table.version == 0
        await publish_messages(bus, [message(3)])
        await settled(bus)

    assert alpha.message_ids == ["msg-00003"]


async def test_dispatcher_stopped_mid_flight_leaves_the_message_to_be_redelivered(
    bus: MemoryBus, clock: ManualClock
) -> None:
    settings = settings_for([route("*", "otp", {"alpha": 1})], {"alpha": {}})
    stuck = ScriptedSupplier("alpha", clock, gate=asyncio.Event())
    async with running(settings, bus, [stuck], clock=clock) as dispatcher:
        await publish_messages(bus, [message(4)])
        await stuck.started.wait()
        await dispatcher.stop(grace_s=0)
    assert await bus.pending(SUBMIT, "dispatch") == 1

    alpha = ScriptedSupplier("alpha", clock)
    reader = EventReader(bus)
    async with running(settings, bus, [alpha], clock=clock):
        clock.advance(settings.dispatch.ack_wait_s)
        await reader.collect(results=1)
        await settled(bus)

    assert alpha.message_ids == ["msg-00004"]
    assert [(r.supplier, r.accepted) for r in reader.results] == [("alpha", True)]


class SlowResultsBus(MemoryBus):
    """A memory bus whose `sms.submitted` publishes wait until the test lets them through."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock=clock)
        self.results_gate = asyncio.Event()

    async def publish(self, subject: str, payload: bytes, *, msg_id: str | None = None) -> None:
        if subject == SUBMITTED:
            await self.results_gate.wait()
        await super().publish(subject, payload, msg_id=msg_id)

    async def publish_many(
        self, subject: str, payloads: Sequence[bytes], *, msg_ids: Sequence[str] | None = None
    ) -> None:
        if subject == SUBMITTED:
            await self.results_gate.wait()
        await super().publish_many(subject, payloads, msg_ids=msg_ids)


async def test_message_is_acked_only_after_its_result_is_on_the_bus(clock: ManualClock) -> None:
    slow = SlowResultsBus(clock)
    await slow.start()
    settings = settings_for([route("*", "otp", {"alpha": 1})], {"alpha": {}})
    alpha = ScriptedSupplier("alpha", clock)
    reader = EventReader(slow)
    async with running(settings, slow, [alpha], clock=clock):
        try:
            await publish_messages(slow, [message(5)])
            await alpha.started.wait()
            await asyncio.sleep(0.05)
            assert await slow.pending(SUBMIT, "dispatch") == 1
        finally:
            slow.results_gate.set()
        await reader.collect(results=1)
        await settled(slow)
    await slow.close()


async def test_message_without_a_route_stays_on_the_bus(bus: MemoryBus, clock: ManualClock) -> None:
    settings = settings_for([route("cmcc", "otp", {"alpha": 1})], {"alpha": {}})
    alpha = ScriptedSupplier("alpha", clock)
    async with running(settings, bus, [alpha], clock=clock) as dispatcher:
        await publish_messages(bus, [message(6, "marketing")])
        await wait_for(
            lambda: (
                dispatcher.metrics.registry.get_sample_value(
                    "smsctl_dispatch_messages_total", {"disposition": "unroutable"}
                )
                == 1
            )
        )
        assert await bus.pending(SUBMIT, "dispatch") == 1
    assert alpha.calls == []


async def test_message_published_twice_is_sent_once(bus: MemoryBus, clock: ManualClock) -> None:
    settings = settings_for([route("*", "otp", {"alpha": 1})], {"alpha": {}})
    alpha = ScriptedSupplier("alpha", clock)
    async with running(settings, bus, [alpha], clock=clock):
        await publish_messages(bus, [message(7)])
        await settled(bus)
        await publish_messages(bus, [message(7)])
        await settled(bus)

    assert alpha.message_ids == ["msg-00007"]


async def test_supplier_without_the_template_is_passed_over(
    bus: MemoryBus, clock: ManualClock
) -> None:
    settings = settings_for(
        [route("*", "otp", {"alpha": 1, "beta": 0})],
        {"alpha": {"templates": {"other": "SMS_9"}}, "beta": {}},
    )
    alpha, beta = (ScriptedSupplier(name, clock) for name in TWO_SUPPLIERS)
    reader = EventReader(bus)
    async with running(settings, bus, [alpha, beta], clock=clock):
        await publish_messages(bus, [message(8)])
        await reader.collect(results=1)

    assert alpha.calls == []
    assert [(r.supplier, r.attempt) for r in reader.results] == [("beta", 1)]
