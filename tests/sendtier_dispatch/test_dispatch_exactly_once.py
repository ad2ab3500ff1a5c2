"""A supplier gets each message once, even when publishing its SubmitResult fails.

The supplier is never asked again because a later step failed: the dispatcher marks the message
submitted in the database before the result goes out, and a redelivered message finds the mark
and publishes the stored result instead of sending again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

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

from sendtier.dispatch import Dispatcher
from sendtier.storage import SENDTIER_HISTORY, Database
from smsplatform.bus import SUBMIT, SUBMITTED, JetStreamBus, MemoryBus, PublishFailed
from smsplatform.clock import ManualClock, SystemClock

SETTINGS = settings_for([route("*", "otp", {"alpha": 1})], {"alpha": {}})


class ResultsTrouble:
    """The next `failures` publishes on sms.submitted fail. With `lost_answer` the bus holds
    each failed one all the same (its answer was lost); `precise` failures say so, as the
    backends do, others are bare errors."""

    failures = 0
    lost_answer = False
    precise = False

    async def publish(self, subject: str, payload: bytes, **ids: Any) -> None:
        if await self._fails(subject):
            if self.lost_answer:
                await super().publish(subject, payload, **ids)  # type: ignore[misc]
            raise self._error(subject, 1)
        await super().publish(subject, payload, **ids)  # type: ignore[misc]

    async def publish_many(self, subject: str, payloads: Sequence[bytes], **ids: Any) -> None:
        if await self._fails(subject):
            if self.lost_answer:
                await super().publish_many(subject, payloads, **ids)  # type: ignore[misc]
            raise self._error(subject, len(payloads))
        await super().publish_many(subject, payloads, **ids)  # type: ignore[misc]

    async def _fails(self, subject: str) -> bool:
        if subject != SUBMITTED or self.failures == 0:
            return False
        self.failures -= 1
        return True

    def _error(self, subject: str, count: int) -> Exception:
        if self.precise:
            return PublishFailed(subject, count, range(count), maybe_held=self.lost_answer)
        return RuntimeError("the bus did not answer")


class TroubledMemoryBus(ResultsTrouble, MemoryBus):
    pass


class TroubledJetStreamBus(ResultsTrouble, JetStreamBus):
    pass


def handled(dispatcher: Dispatcher, disposition: str) -> float:
    value = dispatcher.metrics.registry.get_sample_value(
        "smsctl_dispatch_messages_total", {"disposition": disposition}
    )
    return value or 0.0


@pytest.fixture
def database(database_url: str) -> Database:
    migrated = Database(database_url)
    migrated.upgrade(SENDTIER_HISTORY)
    return migrated


async def test_a_result_that_never_got_out_is_published_again_and_never_resent(
    database: Database,
) -> None:
    clock = ManualClock(T0)
    bus = TroubledMemoryBus(clock=clock)
    await bus.start()
    alpha = ScriptedSupplier("alpha", clock)
    bus.failures = 1_000  # the bus refuses every result until it is back
    async with running(
        SETTINGS, bus, [alpha], clock=clock, sleep=ClockSleeper(clock), database=database
    ) as first:
        await publish_messages(bus, [message(1)])
        await wait_for(lambda: handled(first, "failed") == 1)
    assert await bus.pending(SUBMIT, "dispatch") == 1, "not acked: it comes back"

    bus.failures = 0
    reader = EventReader(bus)
    async with running(SETTINGS, bus, [alpha], clock=clock, database=database) as restarted:
        clock.advance(SETTINGS.dispatch.ack_wait_s + 1)
        await reader.collect(results=1)
        await settled(bus)
        already_sent = handled(restarted, "already_submitted")
    await bus.close()
    database.dispose()

    assert alpha.message_ids == ["msg-00001"], "the supplier got it once"
    [result] = reader.results
    assert (result.message_id, result.accepted, result.supplier_message_id) == (
        "msg-00001",
        True,
        "sid-1",
    )
    assert already_sent == 1


async def test_a_result_publish_whose_answer_was_lost_is_retried_as_one_message(
    database: Database,
) -> None:
    clock = ManualClock(T0)
    bus = TroubledMemoryBus(clock=clock)
    await bus.start()
    bus.failures, bus.lost_answer, bus.precise = 1, True, True
    alpha = ScriptedSupplier("alpha", clock)
    reader = EventReader(bus)
    async with running(
        SETTINGS, bus, [alpha], clock=clock, sleep=ClockSleeper(clock), database=database
    ):
        await publish_messages(bus, [message(2)])
        await settled(bus)  # acked without waiting for a redelivery
        await reader.collect(results=1)
        with pytest.raises(TimeoutError):
            await reader.collect(results=2, timeout=0.3)
    await bus.close()
    database.dispose()

    assert alpha.message_ids == ["msg-00002"]
    assert [(r.message_id, r.accepted) for r in reader.results] == [("msg-00002", True)]


async def test_a_redelivered_message_waits_while_its_marker_cannot_be_read(
    sqlite_url: str,
) -> None:
    clock = ManualClock(T0)
    bus = MemoryBus(clock=clock)
    await bus.start()
    unmigrated = Database(sqlite_url)  # no markers table: every read fails
    stuck = ScriptedSupplier("alpha", clock, gate=asyncio.Event())
    async with running(SETTINGS, bus, [stuck], clock=clock, database=unmigrated) as first:
        await publish_messages(bus, [message(3)])
        await stuck.started.wait()  # a first delivery is sent although the store is down
        await first.stop(grace_s=0)

    alpha = ScriptedSupplier("alpha", clock)
    async with running(SETTINGS, bus, [alpha], clock=clock, database=unmigrated) as restarted:
        clock.advance(SETTINGS.dispatch.ack_wait_s + 1)
        await wait_for(lambda: handled(restarted, "unverified") == 1)
        assert await bus.pending(SUBMIT, "dispatch") == 1
    await bus.close()
    unmigrated.dispose()

    assert stuck.message_ids == ["msg-00003"]
    assert alpha.calls == [], "a redelivery is not sent while its marker cannot be read"


@pytest.fixture
async def jetstream(nats_url: str, unique_name: str) -> AsyncIterator[TroubledJetStreamBus]:
    bus = TroubledJetStreamBus(nats_url, stream=unique_name, namespace=unique_name)
    await bus.start()
    try:
        yield bus
    finally:
        await bus.delete_stream()
        await bus.close()


async def test_on_jetstream_a_lost_result_answer_and_a_redelivery_send_nothing_twice(
    jetstream: TroubledJetStreamBus, sqlite_url: str
) -> None:
    clock = SystemClock()
    settings = settings_for([route("*", "otp", {"alpha": 1})], {"alpha": {}}, ack_wait_s=1.0)
    database = Database(sqlite_url)
    database.upgrade(SENDTIER_HISTORY)
    alpha = ScriptedSupplier("alpha", clock)
    reader = EventReader(jetstream)
    async with running(settings, jetstream, [alpha], clock=clock, database=database) as dispatcher:
        # The stream stores the result but its answer is lost: the retry is one message.
        jetstream.failures, jetstream.lost_answer, jetstream.precise = 1, True, True
        await publish_messages(jetstream, [message(4)])
        await settled(jetstream, timeout=10)
        # Every try refused: the message comes back after ack_wait and finds its marker.
        jetstream.failures, jetstream.lost_answer = 3, False
        await publish_messages(jetstream, [message(5)])
        await wait_for(lambda: handled(dispatcher, "failed") == 1, timeout=10)
        await reader.collect(results=2, timeout=10)
        await settled(jetstream, timeout=10)
        with pytest.raises(TimeoutError):
            await reader.collect(results=3, timeout=0.5)
        already_sent = handled(dispatcher, "already_submitted")
    database.dispose()

    assert alpha.message_ids == ["msg-00004", "msg-00005"]
    assert sorted(r.message_id for r in reader.results) == ["msg-00004", "msg-00005"]
    assert already_sent == 1
