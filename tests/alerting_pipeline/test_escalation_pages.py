"""Escalation pages: a paged receiver hears of the resolution (once), and a step due for a group
this process does not hold yet waits for it instead of being claimed and lost."""

from __future__ import annotations

import pytest
from pipeline_helpers import NoSleep, RecordingChannel, notice

from controlplane.alerting.config import Escalation, EscalationStep, Route, RouteOptions
from controlplane.alerting.escalation import Acknowledgements, EscalationStore, EscalationTracker
from controlplane.alerting.pipeline import AlertingStage, Channel, Escalator, Receiver
from controlplane.clock import ManualClock
from controlplane.engine.alerts import AlertState
from controlplane.storage import AlertRepository, Database

FIRING = AlertState.FIRING
RESOLVED = AlertState.RESOLVED
LABELS = {"alertname": "SupplierDown", "instance": "a"}
# The team hears at once (after group_wait 5 s); the phone is paged after 5 minutes.
ROUTE = Route(
    RouteOptions(
        "team",
        group_by=frozenset({"alertname"}),
        group_wait_s=5,
        group_interval_s=60,
        repeat_interval_s=3600,
        escalation="page",
    )
)
CHAINS = {"page": Escalation("page", (EscalationStep(300, ("phone",)),))}


@pytest.fixture
def database(sqlite_url: str) -> Database:
    db = Database(sqlite_url)
    db.upgrade()
    return db


def paging_stage(
    database: Database,
    clock: ManualClock,
    robot: RecordingChannel,
    phone: RecordingChannel,
    phone_send_resolved: bool = True,
) -> AlertingStage:
    store = EscalationStore(database)
    acks = Acknowledgements(store, AlertRepository(database), clock)
    return AlertingStage(
        database=database,
        route=ROUTE,
        receivers={
            "team": Receiver("team", (Channel(robot),)),
            "phone": Receiver("phone", (Channel(phone, send_resolved=phone_send_resolved),)),
        },
        clock=clock,
        escalator=Escalator(EscalationTracker(store, CHAINS, clock), acks),
        sleep=NoSleep(),
    )


async def run_for(clock: ManualClock, stage: AlertingStage, seconds: int) -> None:
    for _ in range(seconds):
        clock.advance(1)
        await stage.tick()


def statuses(channel: RecordingChannel) -> list[str]:
    return [n.status for n in channel.sent]


async def test_a_receiver_paged_by_escalation_gets_one_resolved_message(
    database: Database,
) -> None:
    clock = ManualClock()
    robot, phone = RecordingChannel("dingtalk"), RecordingChannel("sms")
    stage = paging_stage(database, clock, robot, phone)
    await stage.deliver([notice(LABELS, FIRING, clock.now())])
    await run_for(clock, stage, 301)
    assert statuses(robot) == ["firing"] and statuses(phone) == ["firing"]

    await stage.deliver([notice(LABELS, RESOLVED, clock.now())])
    await run_for(clock, stage, 120)
    assert statuses(robot) == ["firing", "resolved"]
    assert statuses(phone) == ["firing", "resolved"]
    assert [a.labels["instance"] for a in phone.sent[1].alerts] == ["a"]

    # A restarted process that hears of the resolution again does not repeat it.
    restarted = paging_stage(database, clock, robot, phone)
    await restarted.deliver([notice(LABELS, RESOLVED, clock.now())])
    await run_for(clock, restarted, 120)
    assert statuses(phone) == ["firing", "resolved"]


async def test_a_paged_receiver_with_send_resolved_false_gets_no_resolved_message(
    database: Database,
) -> None:
    clock = ManualClock()
    robot, phone = RecordingChannel("dingtalk"), RecordingChannel("sms")
    stage = paging_stage(database, clock, robot, phone, phone_send_resolved=False)
    await stage.deliver([notice(LABELS, FIRING, clock.now())])
    await run_for(clock, stage, 301)
    await stage.deliver([notice(LABELS, RESOLVED, clock.now())])
    await run_for(clock, stage, 120)
    assert statuses(robot) == ["firing", "resolved"]
    assert statuses(phone) == ["firing"]


async def test_a_step_due_before_a_restarted_process_holds_the_group_waits_for_it(
    database: Database,
) -> None:
    clock = ManualClock()
    robot, phone = RecordingChannel("dingtalk"), RecordingChannel("sms")
    first = paging_stage(database, clock, robot, phone)
    await first.deliver([notice(LABELS, FIRING, clock.now())])
    await run_for(clock, first, 6)
    assert statuses(robot) == ["firing"]  # the escalation episode has begun

    # A new process ticks past the 5-minute step before its alerts are back in memory.
    restarted = paging_stage(database, clock, robot, phone)
    await run_for(clock, restarted, 300)
    assert phone.sent == []
    [episode] = EscalationStore(database).active()
    assert episode.claimed_steps == frozenset()  # not claimed for nothing: still to send

    await restarted.deliver([notice(LABELS, FIRING, clock.now())])  # the engine re-delivers
    await run_for(clock, restarted, 10)
    assert statuses(phone) == ["firing"]
    assert statuses(robot) == ["firing"]  # the log kept the team's message from repeating
