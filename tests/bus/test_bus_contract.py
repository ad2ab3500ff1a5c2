"""The Bus contract, run against every backend: the memory bus and NATS JetStream."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from smsplatform.bus import RECEIPTS, SUBMITTED, Bus, Delivery, JetStreamBus, MemoryBus, make_bus
from smsplatform.bus.base import Subscription
from smsplatform.clock import ManualClock, system_clock

# Short enough that redelivery tests stay fast, long enough for a JetStream round trip.
ACK_WAIT = 0.4


async def fetch_n(subscription: Subscription, count: int, within: float = 5.0) -> list[Delivery]:
    """Exactly the first `count` deliveries, fetching until they arrive or `within` runs out."""
    deliveries: list[Delivery] = []
    give_up_at = time.monotonic() + within
    while len(deliveries) < count and time.monotonic() < give_up_at:
        deliveries += await subscription.fetch(count - len(deliveries), timeout=0.5)
    assert len(deliveries) == count, f"got {len(deliveries)} of {count} deliveries"
    return deliveries


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 3.0) -> None:
    """Wait for `check` to hold: JetStream applies acks asynchronously to consumer info."""
    give_up_at = time.monotonic() + within
    while not await check():
        assert time.monotonic() < give_up_at, "condition never held"
        await asyncio.sleep(0.02)


async def ack_all(deliveries: list[Delivery]) -> None:
    for delivery in deliveries:
        await delivery.ack()


async def test_published_messages_are_delivered_in_order_to_a_durable(bus: Bus) -> None:
    subscription = await bus.subscribe(RECEIPTS, "ingest")
    for n in range(10):
        await bus.publish(RECEIPTS, f"receipt-{n}".encode())

    deliveries = await fetch_n(subscription, 10)

    assert [d.data for d in deliveries] == [f"receipt-{n}".encode() for n in range(10)]
    assert {d.subject for d in deliveries} == {RECEIPTS}
    assert {d.attempt for d in deliveries} == {1}


async def test_two_durables_each_get_every_message(bus: Bus) -> None:
    ingest = await bus.subscribe(RECEIPTS, "ingest")
    archive = await bus.subscribe(RECEIPTS, "archive")
    await bus.publish_many(RECEIPTS, [b"a", b"b", b"c"])

    ingest_got = await fetch_n(ingest, 3)
    archive_got = await fetch_n(archive, 3)

    assert [d.data for d in ingest_got] == [b"a", b"b", b"c"]
    assert [d.data for d in archive_got] == [b"a", b"b", b"c"]


async def test_the_same_durable_name_on_two_subjects_is_two_durables(bus: Bus) -> None:
    receipts = await bus.subscribe(RECEIPTS, "ingest")
    submitted = await bus.subscribe(SUBMITTED, "ingest")
    await bus.publish(RECEIPTS, b"receipt")
    await bus.publish(SUBMITTED, b"submit-result")

    assert [d.data for d in await fetch_n(receipts, 1)] == [b"receipt"]
    assert [d.data for d in await fetch_n(submitted, 1)] == [b"submit-result"]


async def test_acked_messages_are_not_redelivered(bus: Bus) -> None:
    subscription = await bus.subscribe(RECEIPTS, "ingest", ack_wait=ACK_WAIT)
    await bus.publish_many(RECEIPTS, [b"a", b"b"])
    await ack_all(await fetch_n(subscription, 2))

    # Waits past ack_wait: an un-acked message would come back within it.
    assert await subscription.fetch(10, timeout=ACK_WAIT * 1.5) == []


async def test_messages_of_a_consumer_that_died_are_redelivered_to_the_next_subscription(
    bus: Bus,
) -> None:
    dead = await bus.subscribe(RECEIPTS, "ingest", ack_wait=ACK_WAIT)
    await bus.publish_many(RECEIPTS, [b"a", b"b", b"c"])
    await fetch_n(dead, 3)
    await dead.close()

    successor = await bus.subscribe(RECEIPTS, "ingest", ack_wait=ACK_WAIT)
    assert await successor.fetch(10, timeout=ACK_WAIT / 4) == [], "redelivered before ack_wait"
    redelivered = await fetch_n(successor, 3)

    assert sorted(d.data for d in redelivered) == [b"a", b"b", b"c"]
    assert {d.attempt for d in redelivered} == {2}


async def test_nak_redelivers_at_once(bus: Bus) -> None:
    subscription = await bus.subscribe(RECEIPTS, "ingest", ack_wait=30.0)
    await bus.publish(RECEIPTS, b"retry-me")
    (first,) = await fetch_n(subscription, 1)

    await first.nak()
    started = time.monotonic()
    (again,) = await fetch_n(subscription, 1, within=1.0)

    assert again.data == b"retry-me"
    assert time.monotonic() - started < 1.0


async def test_attempt_counts_up_with_each_redelivery(bus: Bus) -> None:
    subscription = await bus.subscribe(RECEIPTS, "ingest", ack_wait=30.0)
    await bus.publish(RECEIPTS, b"flaky")

    attempts = []
    for _ in range(3):
        (delivery,) = await fetch_n(subscription, 1)
        attempts.append(delivery.attempt)
        await delivery.nak()

    assert attempts == [1, 2, 3]


async def test_fetch_returns_nothing_after_its_timeout_when_empty(bus: Bus) -> None:
    subscription = await bus.subscribe(RECEIPTS, "ingest")

    started = time.monotonic()
    deliveries = await subscription.fetch(100, timeout=0.2)
    elapsed = time.monotonic() - started

    assert deliveries == []
    assert 0.15 <= elapsed < 1.0


async def test_fetch_wakes_when_a_message_is_published_while_it_waits(bus: Bus) -> None:
    subscription = await bus.subscribe(RECEIPTS, "ingest")
    waiting = asyncio.create_task(subscription.fetch(10, timeout=5.0))
    await asyncio.sleep(0.05)

    started = time.monotonic()
    await bus.publish(RECEIPTS, b"late")
    deliveries = await waiting

    assert [d.data for d in deliveries] == [b"late"]
    assert time.monotonic() - started < 1.0


async def test_pending_counts_waiting_and_in_flight_until_acked(bus: Bus) -> None:
    subscription = await bus.subscribe(RECEIPTS, "ingest")
    await bus.publish_many(RECEIPTS, [b"1", b"2", b"3", b"4", b"5"])

    async def pending_is(expected: int) -> bool:
        return await bus.pending(RECEIPTS, "ingest") == expected

    await eventually(lambda: pending_is(5))
    first_two = await fetch_n(subscription, 2)
    await eventually(lambda: pending_is(5))  # two in flight, three waiting
    await ack_all(first_two)
    await eventually(lambda: pending_is(3))
    await ack_all(await fetch_n(subscription, 3))
    await eventually(lambda: pending_is(0))


async def test_pending_of_an_unknown_durable_is_an_error(bus: Bus) -> None:
    with pytest.raises(LookupError):
        await bus.pending(RECEIPTS, "nobody")


async def test_publish_many_of_5000_messages_all_arrive_exactly_once(bus: Bus) -> None:
    subscription = await bus.subscribe(RECEIPTS, "ingest", ack_wait=10.0)
    payloads = [f"msg-{n}".encode() for n in range(5000)]
    await bus.publish_many(RECEIPTS, payloads)

    received: list[bytes] = []
    while len(received) < len(payloads):
        batch = await subscription.fetch(1000, timeout=2.0)
        assert batch, f"stalled after {len(received)} messages"
        received += [d.data for d in batch]
        await ack_all(batch)

    assert await subscription.fetch(1000, timeout=0.2) == []
    assert Counter(received) == Counter(payloads)
    assert received == payloads


async def test_a_durable_created_after_publishing_still_gets_earlier_messages(bus: Bus) -> None:
    await bus.publish_many(RECEIPTS, [b"early-1", b"early-2"])

    latecomer = await bus.subscribe(RECEIPTS, "latecomer")

    assert [d.data for d in await fetch_n(latecomer, 2)] == [b"early-1", b"early-2"]


async def test_a_900_kb_payload_round_trips(bus: Bus) -> None:
    subscription = await bus.subscribe(RECEIPTS, "ingest")
    payload = bytes(range(256)) * (900 * 1024 // 256)
    await bus.publish(RECEIPTS, payload)

    (delivery,) = await fetch_n(subscription, 1)

    assert delivery.data == payload


async def test_a_started_bus_is_healthy(bus: Bus) -> None:
    assert await bus.healthy()


async def test_invalid_durable_names_are_rejected(bus: Bus) -> None:
    with pytest.raises(ValueError, match="durable"):
        await bus.subscribe(RECEIPTS, "has.dots")


async def test_memory_bus_discards_the_oldest_messages_beyond_its_cap() -> None:
    bus = MemoryBus(max_messages_per_subject=3)
    await bus.start()
    subscription = await bus.subscribe(RECEIPTS, "ingest")
    await bus.publish_many(RECEIPTS, [b"1", b"2", b"3", b"4", b"5"])

    assert await bus.pending(RECEIPTS, "ingest") == 3
    assert [d.data for d in await subscription.fetch(10, timeout=0)] == [b"3", b"4", b"5"]
    assert bus.discarded(RECEIPTS) == 2


async def test_memory_bus_trims_messages_every_durable_has_acked() -> None:
    bus = MemoryBus()
    await bus.start()
    ingest = await bus.subscribe(RECEIPTS, "ingest")
    await bus.publish_many(RECEIPTS, [b"1", b"2"])
    await ack_all(await ingest.fetch(10, timeout=0))
    await bus.publish(RECEIPTS, b"3")

    latecomer = await bus.subscribe(RECEIPTS, "latecomer")

    assert [d.data for d in await latecomer.fetch(10, timeout=0)] == [b"3"]


async def test_memory_bus_redelivers_by_its_clock() -> None:
    clock = ManualClock()
    bus = MemoryBus(clock=clock)
    await bus.start()
    subscription = await bus.subscribe(RECEIPTS, "ingest", ack_wait=30.0)
    await bus.publish(RECEIPTS, b"slow")
    await subscription.fetch(10, timeout=0)

    assert await subscription.fetch(10, timeout=0) == []
    clock.advance(31)
    assert [d.attempt for d in await subscription.fetch(10, timeout=0)] == [2]


async def test_memory_bus_moves_a_million_messages_in_seconds() -> None:
    bus = MemoryBus()
    await bus.start()
    subscription = await bus.subscribe(RECEIPTS, "ingest")
    started = time.monotonic()

    await bus.publish_many(RECEIPTS, [b"receipt"] * 1_000_000)
    received = 0
    while batch := await subscription.fetch(1000, timeout=0):
        received += len(batch)
        await ack_all(batch)

    assert received == 1_000_000
    assert await bus.pending(RECEIPTS, "ingest") == 0
    # About 1.5 s on a laptop; the bound is loose so a busy CI machine does not flake.
    assert time.monotonic() - started < 10.0


async def test_closed_memory_bus_is_not_healthy() -> None:
    bus = MemoryBus()
    await bus.start()
    await bus.close()

    assert not await bus.healthy()


def test_make_bus_builds_the_named_backend_and_rejects_others() -> None:
    options = {"url": "nats://127.0.0.1:4222", "stream": "S", "namespace": "n"}

    assert isinstance(make_bus("memory", clock=system_clock, **options), MemoryBus)
    assert isinstance(make_bus("jetstream", clock=system_clock, **options), JetStreamBus)
    with pytest.raises(ValueError, match="kafka"):
        make_bus("kafka", clock=system_clock, **options)
