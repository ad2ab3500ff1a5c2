"""The escalation tick waits on the database in a worker thread: the event loop keeps serving."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from controlplane.alerting.config import Escalation, EscalationStep
from controlplane.alerting.escalation import (
    Acknowledgements,
    EscalationStore,
    EscalationTracker,
)
from controlplane.alerting.escalation.store import Episode
from controlplane.alerting.pipeline.escalating import NOT_MUTED, Escalator, Muting
from controlplane.storage import CONTROL_PLANE_HISTORY, AlertRepository, Database
from smsplatform.clock import ManualClock

FIRED = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
GROUP = '{}:{alertname="SupplierDeliveryDrop"}'
CHAIN = Escalation(
    "page",
    (EscalationStep(0.0, ("dingtalk-ops",)), EscalationStep(300.0, ("voice-primary",))),
)
SLOW_QUERY_S = 0.2


class SlowStore(EscalationStore):
    """The real store on a database that takes its time answering (a busy MariaDB)."""

    def active(self) -> list[Episode]:
        time.sleep(SLOW_QUERY_S)
        return super().active()


def escalator(database: Database, clock: ManualClock) -> Escalator:
    store = SlowStore(database)
    tracker = EscalationTracker(store, {CHAIN.name: CHAIN}, clock)
    tracker.start(GROUP, CHAIN.name, ["a1b2c3d4e5f60718"], FIRED)
    return Escalator(tracker, Acknowledgements(store, AlertRepository(database), clock))


async def test_a_slow_database_does_not_stall_the_event_loop_during_the_escalation_tick(
    sqlite_url: str,
) -> None:
    database = Database(sqlite_url)
    database.upgrade(CONTROL_PLANE_HISTORY)
    clock = ManualClock(FIRED)
    steps = escalator(database, clock)
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            await asyncio.sleep(0.01)
            beats += 1

    beating = asyncio.create_task(heartbeat())
    try:
        due = await steps.due(clock.now(), lambda _: NOT_MUTED)
    finally:
        beating.cancel()
        database.dispose()
    assert [d.step.receivers for d in due] == [("dingtalk-ops",)]
    # On the loop, time.sleep would have frozen the heartbeat for the whole query.
    assert beats >= 5


async def test_a_paused_group_keeps_its_steps_for_when_the_mute_ends(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    database.upgrade(CONTROL_PLANE_HISTORY)
    clock = ManualClock(FIRED)
    steps = escalator(database, clock)
    try:
        clock.advance(600)
        assert await steps.due(clock.now(), lambda _: Muting(paused=True)) == []
        due = await steps.due(clock.now(), lambda _: NOT_MUTED)
    finally:
        database.dispose()
    assert [d.step.receivers for d in due] == [("dingtalk-ops",), ("voice-primary",)]
