"""The consume loop: errors never end it, poison is dropped, failed batches come back, liveness."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from prometheus_client import CollectorRegistry

from smsplatform.bus import RECEIPTS, Delivery
from smsplatform.bus.consume import Batch, Consumer
from smsplatform.bus.consumer_metrics import ConsumerCollector
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import ManualClock
from tests.bus.faulty_bus import FaultyBus


async def until(check: Callable[[], bool], within: float = 5.0) -> None:
    give_up_at = time.monotonic() + within
    while not check():
        assert time.monotonic() < give_up_at, "condition never held"
        await asyncio.sleep(0.01)


class Recorder:
    """A handler that keeps what it got; fails while `failing` is set."""

    def __init__(self) -> None:
        self.values: list[int] = []
        self.attempts: list[int] = []
        self.failing = False

    async def __call__(self, batch: Batch[int]) -> None:
        if self.failing:
            raise RuntimeError("database is down")
        self.values += batch.values
        self.attempts += [delivery.attempt for delivery in batch.deliveries]


@pytest.fixture
async def bus() -> AsyncIterator[FaultyBus]:
    started = FaultyBus()
    await started.start()
    yield started
    await started.close()


async def consumer_of(
    bus: FaultyBus, handler: Recorder, liveness: LivenessRegistry, name: str = "counter"
) -> Consumer[int]:
    subscription = await bus.subscribe(RECEIPTS, name, ack_wait=30.0)
    return Consumer(
        name,
        subscription,
        lambda data: int(data.decode()),
        handler,
        liveness=liveness,
        fetch_max=16,
        fetch_timeout_s=0.05,
    )


async def test_a_failed_fetch_does_not_end_the_loop(bus: FaultyBus) -> None:
    handler = Recorder()
    liveness = LivenessRegistry()
    consumer = await consumer_of(bus, handler, liveness)
    bus.fail_next_fetches(3)
    consumer.start()
    await bus.publish_many(RECEIPTS, [b"1", b"2"])

    await until(lambda: handler.values == [1, 2])

    [status] = liveness.statuses()
    assert status.state == "up"
    assert status.errors["fetch"] == 3
    assert "connection closed" in (status.last_error or "")
    await consumer.stop()
    assert liveness.statuses() == []  # stopped on purpose: no longer watched


async def test_a_poison_message_is_dropped_and_counted_and_the_rest_are_handled(
    bus: FaultyBus,
) -> None:
    handler = Recorder()
    liveness = LivenessRegistry()
    consumer = await consumer_of(bus, handler, liveness)
    await bus.publish_many(RECEIPTS, [b"1", b"not a number", b"3"])
    consumer.start()

    await until(lambda: handler.values == [1, 3])
    await until(lambda: liveness.statuses()[0].poison_messages == 1)

    for _ in range(100):  # the acks land just after the handler returns
        if await bus.pending(RECEIPTS, "counter") == 0:
            break
        await asyncio.sleep(0.01)
    assert await bus.pending(RECEIPTS, "counter") == 0  # the poison one too: it never returns
    await consumer.stop()


async def test_a_failed_batch_is_delivered_again_after_a_backoff(bus: FaultyBus) -> None:
    handler = Recorder()
    liveness = LivenessRegistry()
    consumer = await consumer_of(bus, handler, liveness)
    handler.failing = True
    await bus.publish_many(RECEIPTS, [b"7", b"8"])
    consumer.start()
    await until(lambda: liveness.statuses()[0].errors["handle"] >= 1)

    handler.failing = False

    await until(lambda: handler.values == [7, 8])
    assert min(handler.attempts) >= 2  # nak'ed, then delivered again
    await consumer.stop()


async def test_a_consumer_whose_fetches_keep_failing_is_stuck_until_the_bus_is_back(
    bus: FaultyBus,
) -> None:
    clock = ManualClock()
    liveness = LivenessRegistry(clock, stuck_after_s=30)
    handler = Recorder()
    consumer = await consumer_of(bus, handler, liveness)
    bus.fail_fetches()
    consumer.start()
    await until(lambda: bus.failed_fetches["counter"] >= 2)

    clock.advance(31)

    [status] = liveness.statuses()
    assert status.state == "stuck"
    registry = CollectorRegistry()
    registry.register(ConsumerCollector(liveness, "smsctl"))
    assert registry.get_sample_value("smsctl_consumer_up", {"consumer": "counter"}) == 0
    assert registry.get_sample_value(
        "smsctl_consumer_errors_total", {"consumer": "counter", "stage": "fetch"}
    ) == float(status.errors["fetch"])

    bus.heal()
    await bus.publish(RECEIPTS, b"5")
    await until(lambda: handler.values == [5], within=10)
    # The fetch's progress is noted once its batch is settled, just after the handler returns.
    await until(lambda: liveness.statuses()[0].state == "up")
    assert registry.get_sample_value("smsctl_consumer_up", {"consumer": "counter"}) == 1
    await consumer.stop()


async def test_a_loop_that_ends_unasked_is_reported_stopped(bus: FaultyBus) -> None:
    liveness = LivenessRegistry()
    consumer = await consumer_of(bus, Recorder(), liveness)
    consumer.start()
    await asyncio.sleep(0.02)
    [task] = [t for t in asyncio.all_tasks() if t.get_name() == "consume-counter"]

    task.cancel()  # as a bug or a stray cancellation would end it
    await asyncio.gather(task, return_exceptions=True)

    assert [(s.name, s.state) for s in liveness.statuses()] == [("counter", "stopped")]


async def test_each_fetch_asks_only_for_the_room_the_handler_has(bus: FaultyBus) -> None:
    class Slots:
        def __init__(self, free: int) -> None:
            self.slots = asyncio.Semaphore(free)
            self.asked: list[int] = []

        async def take(self, most: int) -> int:
            await self.slots.acquire()
            taken = 1
            while taken < most and not self.slots.locked():
                await self.slots.acquire()
                taken += 1
            self.asked.append(taken)
            return taken

        def give_back(self, count: int) -> None:
            for _ in range(count):
                self.slots.release()

    slots = Slots(3)
    held: list[Delivery] = []

    async def hold(batch: Batch[bytes]) -> None:
        held.extend(batch.deliveries)  # slots stay taken until these are done

    subscription = await bus.subscribe(RECEIPTS, "dispatch")
    consumer = Consumer(
        "dispatch",
        subscription,
        bytes,
        hold,
        liveness=LivenessRegistry(),
        fetch_max=256,
        fetch_timeout_s=0.05,
        handler_settles=True,
        credit=slots,
    )
    await bus.publish_many(RECEIPTS, [b"%d" % n for n in range(10)])
    consumer.start()

    await until(lambda: len(held) == 3)
    await asyncio.sleep(0.1)
    assert len(held) == 3  # no room: nothing more fetched
    slots.give_back(2)
    await until(lambda: len(held) == 5)
    assert slots.asked[:2] == [3, 2]
    await consumer.stop()  # ends its wait for room at once


async def test_drain_ends_once_everything_on_the_bus_is_handled(bus: FaultyBus) -> None:
    handler = Recorder()
    liveness = LivenessRegistry()
    consumer = await consumer_of(bus, handler, liveness)
    consumer.start()
    await bus.publish_many(RECEIPTS, [b"%d" % n for n in range(100)])

    await asyncio.wait_for(consumer.drain(lambda: bus.pending(RECEIPTS, "counter")), 5)

    assert handler.values == list(range(100))
    assert liveness.statuses() == []
