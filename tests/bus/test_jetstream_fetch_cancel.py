"""A fetch loop on JetStream stops when cancelled, even while messages keep arriving.

nats-py waits with asyncio.wait_for, which on Python 3.11 swallows a cancellation that lands as
a message arrives; without a guard, a service's consumer loop then never stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib

from smsplatform.bus import JetStreamBus


async def test_a_cancelled_fetch_loop_stops_while_messages_keep_arriving(
    nats_url: str, unique_name: str
) -> None:
    bus = JetStreamBus(nats_url, stream=unique_name, namespace=unique_name)
    await bus.start()
    try:
        subscription = await bus.subscribe("sms.test", "loop", ack_wait=30)
        publishing = True

        async def publish() -> None:
            while publishing:
                await bus.publish_many("sms.test", [b"m"] * 20)

        async def consume() -> None:
            while True:
                for delivery in await subscription.fetch(5, timeout=0.5):
                    await delivery.ack()

        producer = asyncio.create_task(publish())
        still_running = 0
        for attempt in range(20):
            consumer = asyncio.create_task(consume())
            await asyncio.sleep(0.01 + (attempt % 7) * 0.003)  # cancel at varying moments
            consumer.cancel()
            done, _ = await asyncio.wait({consumer}, timeout=2)
            if not done:
                still_running += 1
                while not consumer.done():  # so that the test itself ends
                    consumer.cancel()
                    await asyncio.sleep(0.05)
        publishing = False
        await producer
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
    finally:
        await bus.delete_stream()
        await bus.close()

    assert still_running == 0
