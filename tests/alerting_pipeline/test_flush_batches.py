"""Big flushes: claims and outcomes in batches, overlapping ticks, each group sent once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pipeline_helpers import RecordingChannel, make_stage, notice, route

from controlplane.alerting.pipeline import NotificationLog
from controlplane.alerting.pipeline.notification_log import SENT, Claim, Finished, digest
from controlplane.alerting.pipeline.outbox import batches
from controlplane.engine.alerts import AlertState
from controlplane.storage import CONTROL_PLANE_HISTORY, AlertRepository, Database
from notifiers.base import Notification, NotifyResult, Outcome
from smsplatform.clock import ManualClock

FIRING = AlertState.FIRING


@pytest.fixture
def database(database_url: str) -> Database:
    db = Database(database_url)
    db.upgrade(CONTROL_PLANE_HISTORY)
    return db


def claim(group: str, step: int = 0) -> Claim:
    return Claim("team", group, ["fp-a"], [], ["fp-a"], step)


def test_claims_in_one_batch_refuse_states_already_claimed(database: Database) -> None:
    clock = ManualClock()
    log = NotificationLog(database, "replica-1")
    [first] = log.claim_many([claim("g1")], clock.now())
    assert first is not None
    entries = log.claim_many([claim("g1"), claim("g2"), claim("g2")], clock.now())
    assert entries[0] is None  # claimed by the earlier batch
    assert entries[1] is not None and entries[1].firing == ("fp-a",)
    assert entries[2] is None  # the same state twice in one batch goes out once


def test_latest_many_gives_each_groups_latest_claim_and_latest_send(database: Database) -> None:
    clock = ManualClock()
    log = NotificationLog(database)
    sent, failed = log.claim_many([claim("g1", 0), claim("g1", 1)], clock.now())
    assert sent is not None and failed is not None
    log.finish_many(
        [
            Finished(sent, SENT, "webhook", clock.now(), {"attempts": []}),
            Finished(failed, "failed", None, clock.now(), {"attempts": []}),
        ]
    )
    found = log.latest_many([("team", digest("g1")), ("team", digest("g2"))])
    last, last_sent = found[("team", digest("g1"))]
    assert last is not None and last.step == 1 and last.status == "failed"
    assert last_sent is not None and last_sent.step == 0 and last_sent.owed == ("fp-a",)
    assert ("team", digest("g2")) not in found


def test_sends_are_claimed_in_batches_growing_from_the_first_size_to_the_largest() -> None:
    sends = list(range(500))
    sizes = [len(batch) for batch in batches(sends, 16, 128)]  # type: ignore[arg-type]
    assert sizes == [16, 32, 64, 128, 128, 128, 4]
    assert [s for batch in batches(sends, 16, 128) for s in batch] == sends  # type: ignore[arg-type]


class HeldChannel(RecordingChannel):
    """Delivers only once released: a slow endpoint holding its flush."""

    def __init__(self) -> None:
        super().__init__("webhook")
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, notification: Notification) -> NotifyResult:
        if notification.group_labels.get("alertname") == "Slow":
            self.holding.set()
            await self.release.wait()
        return await super().send(notification)


async def test_a_slow_flush_does_not_hold_back_a_group_due_after_it(database: Database) -> None:
    clock = ManualClock()
    channel = HeldChannel()
    stage = make_stage(database, clock, (channel,), route(wait=1))
    await stage.deliver([notice({"alertname": "Slow"}, FIRING, clock.now())])
    clock.advance(1)
    slow_tick = asyncio.create_task(stage.tick())
    await asyncio.sleep(0.05)  # the slow group is taken and its send is waiting
    await stage.deliver([notice({"alertname": "Fast"}, FIRING, clock.now())])
    clock.advance(1)
    assert await stage.tick() == 1  # the overlapping tick sends Fast, and not Slow again
    assert [n.group_labels["alertname"] for n in channel.sent] == ["Fast"]
    channel.release.set()
    assert await slow_tick == 1
    assert sorted(n.group_labels["alertname"] for n in channel.sent) == ["Fast", "Slow"]


async def test_history_of_a_flush_overlapping_a_slower_one_is_written_when_that_one_ends(
    database: Database,
) -> None:
    clock = ManualClock()
    channel = HeldChannel()
    stage = make_stage(database, clock, (channel,), route(wait=1))
    slow, fast = (notice({"alertname": name}, FIRING, clock.now()) for name in ("Slow", "Fast"))
    await stage.deliver([slow])
    clock.advance(1)
    slow_tick = asyncio.create_task(stage.tick())
    await channel.holding.wait()
    await stage.deliver([fast])
    clock.advance(1)
    assert await stage.tick() == 1
    history = AlertRepository(database)
    assert history.history(fast.transition.alert.fingerprint) == []  # the slow flush still sends
    channel.release.set()
    assert await slow_tick == 1
    for sent in (slow, fast):
        events = history.history(sent.transition.alert.fingerprint)
        assert [(e.kind, e.detail["outcome"]) for e in events] == [("notification", "sent")]


async def test_a_flush_of_hundreds_of_groups_sends_each_once_and_records_history(
    database: Database,
) -> None:
    clock = ManualClock()
    channel = RecordingChannel("webhook")
    stage = make_stage(database, clock, (channel,), route(group_by=("group",), wait=1))
    alerts = [
        notice({"alertname": "Load", "group": f"g{g}", "instance": f"i{i}"}, FIRING, clock.now())
        for g in range(120)
        for i in range(3)
    ]
    await stage.deliver(alerts)
    assert stage.seconds_until_due() == pytest.approx(1.0)
    clock.advance(1)
    assert stage.seconds_until_due() == 0.0
    assert await stage.tick() == 120
    assert sorted(len(n.alerts) for n in channel.sent) == [3] * 120
    clock.advance(timedelta(minutes=10).total_seconds())
    assert await stage.tick() == 0  # unchanged groups: nothing again before repeat_interval
    fingerprint = alerts[0].transition.alert.fingerprint
    history = AlertRepository(database).history(fingerprint)
    assert [(e.kind, e.detail["outcome"]) for e in history] == [("notification", "sent")]


async def test_a_failed_send_is_logged_failed_and_retried_at_the_next_flush(
    database: Database,
) -> None:
    clock = ManualClock()
    channel = RecordingChannel("webhook", (Outcome.FAILED,))
    stage = make_stage(database, clock, (channel,), route(wait=1, interval=60))
    await stage.deliver([notice({"alertname": "X"}, FIRING, clock.now())])
    clock.advance(1)
    assert await stage.tick() == 0
    clock.advance(60)
    assert await stage.tick() == 1
    assert len(channel.sent) == 1
