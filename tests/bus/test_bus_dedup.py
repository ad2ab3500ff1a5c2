"""Message-id dedup, on both backends: a publish retried with the same id stays one message."""

from __future__ import annotations

import nats
import pytest

from smsplatform.bus import (
    RECEIPTS,
    SUBMIT,
    SUBMITTED,
    Bus,
    JetStreamBus,
    MemoryBus,
    PublishFailed,
    Subscription,
)
from smsplatform.clock import ManualClock


async def drain(subscription: Subscription) -> list[bytes]:
    """Everything the durable gets until the bus goes quiet for a moment, acked."""
    received: list[bytes] = []
    while batch := await subscription.fetch(100, timeout=0.3):
        for delivery in batch:
            received.append(delivery.data)
            await delivery.ack()
    return received


async def test_a_message_published_twice_with_one_id_is_delivered_once(bus: Bus) -> None:
    subscription = await bus.subscribe(SUBMIT, "dispatch")

    await bus.publish(SUBMIT, b"message 1", msg_id="m-1")
    await bus.publish(SUBMIT, b"message 1", msg_id="m-1")
    await bus.publish(SUBMIT, b"message 2", msg_id="m-2")

    assert await drain(subscription) == [b"message 1", b"message 2"]


async def test_a_batch_retried_after_a_partial_publish_adds_only_what_was_missing(
    bus: Bus,
) -> None:
    subscription = await bus.subscribe(SUBMIT, "dispatch")
    payloads = [f"message {n}".encode() for n in range(6)]
    ids = [f"m-{n}" for n in range(6)]

    await bus.publish_many(SUBMIT, payloads[:4], msg_ids=ids[:4])  # the first try got this far
    await bus.publish_many(SUBMIT, payloads, msg_ids=ids)  # the retry sends the whole batch

    assert await drain(subscription) == payloads


async def test_messages_without_ids_are_never_deduplicated(bus: Bus) -> None:
    subscription = await bus.subscribe(RECEIPTS, "ingest")

    await bus.publish(RECEIPTS, b"same")
    await bus.publish_many(RECEIPTS, [b"same", b"same"])

    assert await drain(subscription) == [b"same"] * 3


async def test_an_id_counts_across_subjects_as_jetstream_keeps_one_window_per_stream(
    bus: Bus,
) -> None:
    submitted = await bus.subscribe(SUBMITTED, "persist")
    receipts = await bus.subscribe(RECEIPTS, "persist")

    await bus.publish(SUBMITTED, b"result", msg_id="shared")
    await bus.publish(RECEIPTS, b"receipt", msg_id="shared")

    assert await drain(submitted) == [b"result"]
    assert await drain(receipts) == []


async def test_message_ids_must_pair_with_payloads(bus: Bus) -> None:
    with pytest.raises(ValueError, match="2 message ids for 3 payloads"):
        await bus.publish_many(SUBMIT, [b"a", b"b", b"c"], msg_ids=["a", "b"])


async def test_on_the_memory_bus_an_id_is_new_again_after_the_window() -> None:
    clock = ManualClock()
    bus = MemoryBus(clock=clock, dedup_window_s=120)
    await bus.start()
    subscription = await bus.subscribe(SUBMIT, "dispatch")

    await bus.publish(SUBMIT, b"first", msg_id="m-1")
    clock.advance(119)
    await bus.publish(SUBMIT, b"within the window", msg_id="m-1")
    clock.advance(2)
    await bus.publish(SUBMIT, b"after the window", msg_id="m-1")

    assert await drain(subscription) == [b"first", b"after the window"]


async def test_a_closed_memory_bus_refuses_a_publish_and_says_nothing_was_taken() -> None:
    bus = MemoryBus()
    await bus.start()
    await bus.close()

    with pytest.raises(PublishFailed) as failed:
        await bus.publish_many(SUBMIT, [b"a", b"b"], msg_ids=["a", "b"])

    assert failed.value.unconfirmed == (0, 1)
    assert failed.value.maybe_held is False


async def test_jetstream_sets_the_duplicate_window_and_refuses_without_a_stream(
    nats_url: str, unique_name: str
) -> None:
    bus = JetStreamBus(nats_url, stream=unique_name, namespace=unique_name, dedup_window_s=30)
    await bus.start()
    client = await nats.connect(nats_url)
    try:
        info = await client.jetstream().stream_info(unique_name)
        await bus.delete_stream()

        with pytest.raises(PublishFailed) as single:
            await bus.publish(SUBMIT, b"no stream", msg_id="m-2")
        with pytest.raises(PublishFailed) as many:
            await bus.publish_many(SUBMIT, [b"a", b"b", b"c"])
    finally:
        await client.close()
        await bus.close()

    assert info.config.duplicate_window == 30
    assert (single.value.unconfirmed, single.value.maybe_held) == ((0,), False)
    assert (many.value.unconfirmed, many.value.maybe_held) == ((0, 1, 2), False)
