"""Escalation pages: a paged receiver hears of the resolution (once), and a step due for a group
this process does not hold yet waits for it instead of being claimed and lost."""

from __future__ import annotations

import pytest
from pipeline_helpers import RecordingChannel, notice, paging_stage, run_for

from controlplane.alerting.escalation import EscalationStore
from controlplane.engine.alerts import AlertState
from controlplane.storage import CONTROL_PLANE_HISTORY, Database
from smsplatform.clock import ManualClock

FIRING = AlertState.FIRING
RESOLVED = AlertState.RESOLVED
LABELS = {"alertname": "SupplierDown", "instance": "a"}


@pytest.fixture
def database(sqlite_url: str) -> Database:
    db = Database(sqlite_url)
    db.upgrade(CONTROL_PLANE_HISTORY)
    return db


def statuses(channel: RecordingChannel) -> list[str]:
    return [n.status for n in channel.sent]


async def test_a_receiver_paged_by_escalation_gets_one_resolved_message(
    database: Database,
) -> None:
    clock = ManualClock()
    robot, phone = RecordingChannel("dingtalk"), RecordingChannel("sms")
    stage = paging_stage(database, clock, phone, robot=robot)
    await stage.deliver([notice(LABELS, FIRING, clock.now())])
    await run_for(clock, 301, stage)
    assert statuses(robot) == ["firing"] and statuses(phone) == ["firing"]

    await stage.deliver([notice(LABELS, RESOLVED, clock.now())])
    await run_for(clock, 120, stage)
    assert statuses(robot) == ["firing", "resolved"]
    assert statuses(phone) == ["firing", "resolved"]
    assert [a.labels["instance"] for a in phone.sent[1].alerts] == ["a"]

    # A restarted process that hears of the resolution again does not repeat it.
    restarted = paging_stage(database, clock, phone, robot=robot)
    await restarted.deliver([notice(LABELS, RESOLVED, clock.now())])
    await run_for(clock, 120, restarted)
    assert statuses(phone) == ["firing", "resolved"]


async def test_a_paged_receiver_with_send_resolved_false_gets_no_resolved_message(
    database: Database,
) -> None:
    clock = ManualClock()
    robot, phone = RecordingChannel("dingtalk"), RecordingChannel("sms")
    stage = paging_stage(database, clock, phone, robot=robot, phone_send_resolved=False)
    await stage.deliver([notice(LABELS, FIRING, clock.now())])
    await run_for(clock, 301, stage)
    await stage.deliver([notice(LABELS, RESOLVED, clock.now())])
    await run_for(clock, 120, stage)
    assert statuses(robot) == ["firing", "resolved"]
    assert statuses(phone) == ["firing"]


async def test_a_step_due_before_a_restarted_process_holds_the_group_waits_for_it(
    database: Database,
) -> None:
    clock = ManualClock()
    robot, phone = RecordingChannel("dingtalk"), RecordingChannel("sms")
    first = paging_stage(database, clock, phone, robot=robot)
    await first.deliver([notice(LABELS, FIRING, clock.now())])
    await run_for(clock, 6, first)
    assert statuses(robot) == ["firing"]  # the escalation episode has begun

    # A new process ticks past the 5-minute step before its alerts are back in memory.
    restarted = paging_stage(database, clock, phone, robot=robot)
    await run_for(clock, 300, restarted)
    assert phone.sent == []
    [episode] = EscalationStore(database).active()
    assert episode.claimed_steps == frozenset()  # not claimed for nothing: still to send

    await restarted.deliver([notice(LABELS, FIRING, clock.now())])  # the engine re-delivers
    await run_for(clock, 10, restarted)
    assert statuses(phone) == ["firing"]
    assert statuses(robot) == ["firing"]  # the log kept the team's message from repeating
