"""The alerting pipeline end to end on a real database, driven by a ManualClock."""

from __future__ import annotations

import asyncio

import pytest
from pipeline_helpers import (
    NoSleep,
    RateLimitedRobot,
    RecordingChannel,
    alert_names,
    escalator_on,
    make_stage,
    notice,
    route,
)

from controlplane.alerting.config import InhibitRule, parse_matcher
from controlplane.alerting.pipeline import AlertingStage, SilenceRepository
from controlplane.engine.alerts import AlertState, fingerprint
from controlplane.storage import CONTROL_PLANE_HISTORY, AlertRepository, Database
from notifiers.base import Outcome
from notifiers.budget import SlidingWindowBudget
from smsplatform.clock import ManualClock

FIRING = AlertState.FIRING
RESOLVED = AlertState.RESOLVED


@pytest.fixture
def database(sqlite_url: str) -> Database:
    db = Database(sqlite_url)
    db.upgrade(CONTROL_PLANE_HISTORY)
    return db


async def run_for(stage_clock: ManualClock, stage: object, seconds: int) -> None:
    for _ in range(seconds):
        stage_clock.advance(1)
        await stage.tick()  # type: ignore[attr-defined]


async def test_group_waits_then_sends_once_then_updates_on_interval_and_repeats(
    database: Database,
) -> None:
    clock = ManualClock()
    robot = RecordingChannel("dingtalk")
    stage = make_stage(database, clock, (robot,), route(wait=30, interval=300, repeat=3600))
    labels = {"alertname": "SupplierDown", "instance": "a"}
    await stage.deliver([notice(labels, FIRING, clock.now())])
    await run_for(clock, stage, 29)
    assert robot.sent == []  # group_wait not over
    clock.advance(10)
    await stage.deliver(
        [notice({"alertname": "SupplierDown", "instance": "b"}, FIRING, clock.now())]
    )
    await run_for(clock, stage, 1)
    assert [alert_names(n) for n in robot.sent] == [["a", "b"]]  # both in the first message

    await stage.deliver(
        [notice({"alertname": "SupplierDown", "instance": "c"}, FIRING, clock.now())]
    )
    await run_for(clock, stage, 290)
    assert len(robot.sent) == 1  # the new alert waits for group_interval
    await run_for(clock, stage, 11)
    assert [alert_names(n) for n in robot.sent][-1] == ["a", "b", "c"]

    await run_for(clock, stage, 3300)
    assert len(robot.sent) == 2  # unchanged: no re-send before repeat_interval
    await run_for(clock, stage, 310)
    assert len(robot.sent) == 3  # repeat_interval passed: re-sent at the next group interval
    assert alert_names(robot.sent[-1]) == ["a", "b", "c"]


async def test_inhibited_alert_is_not_sent_while_its_source_fires(database: Database) -> None:
    clock = ManualClock()
    robot = RecordingChannel("dingtalk")
    rule = InhibitRule(
        source_matchers=(parse_matcher("alertname=SupplierDown"),),
        target_matchers=(parse_matcher("alertname=DeliveryRateLow"),),
        equal=("supplier",),
    )
    stage = make_stage(database, clock, (robot,), route(wait=5), inhibit=(rule,))
    await stage.deliver(
        [
            notice({"alertname": "SupplierDown", "supplier": "ali"}, FIRING, clock.now()),
            notice({"alertname": "DeliveryRateLow", "supplier": "ali"}, FIRING, clock.now()),
            notice({"alertname": "DeliveryRateLow", "supplier": "tw"}, FIRING, clock.now()),
        ]
    )
    await run_for(clock, stage, 6)
    sent = sorted(
        (a.labels["alertname"], a.labels["supplier"]) for n in robot.sent for a in n.alerts
    )
    assert sent == [("DeliveryRateLow", "tw"), ("SupplierDown", "ali")]


async def test_silenced_alert_is_muted_but_its_resolution_is_still_sent(
    database: Database,
) -> None:
    clock = ManualClock()
    robot = RecordingChannel("dingtalk")
    stage = make_stage(database, clock, (robot,), route(wait=5, interval=60))
    labels = {"alertname": "SupplierDown", "instance": "a"}
    await stage.deliver([notice(labels, FIRING, clock.now())])
    await run_for(clock, stage, 6)
    assert [n.status for n in robot.sent] == ["firing"]

    SilenceRepository(database).add(
        [parse_matcher("alertname=SupplierDown")],
        clock.now(),
        clock.now().replace(year=2027),
        "ops@example.com",
        "maintenance",
        clock.now(),
    )
    await run_for(clock, stage, 120)
    assert len(robot.sent) == 1  # muted: nothing new while silenced
    await stage.deliver([notice(labels, RESOLVED, clock.now())])
    await run_for(clock, stage, 61)
    assert [n.status for n in robot.sent] == ["firing", "resolved"]
    assert [a.status for a in robot.sent[1].alerts] == ["resolved"]
    kinds = [e.kind for e in AlertRepository(database).history(fingerprint(labels))]
    assert kinds == ["notification", "silence", "notification"]


async def test_alert_silenced_before_it_is_ever_sent_stays_quiet_when_it_resolves(
    database: Database,
) -> None:
    clock = ManualClock()
    robot = RecordingChannel("dingtalk")
    stage = make_stage(database, clock, (robot,), route(wait=5, interval=60))
    SilenceRepository(database).add(
        [parse_matcher("instance=~a|b")],
        clock.now(),
        clock.now().replace(year=2027),
        "me",
        "",
        clock.now(),
    )
    labels = {"alertname": "SupplierDown", "instance": "a"}
    await stage.deliver([notice(labels, FIRING, clock.now())])
    await run_for(clock, stage, 10)
    await stage.deliver([notice(labels, RESOLVED, clock.now())])
    await run_for(clock, stage, 120)
    assert robot.sent == []


async def test_restarted_stage_does_not_resend_what_was_sent_mid_group(
    database: Database,
) -> None:
    clock = ManualClock()
    robot = RecordingChannel("dingtalk")
    target = route(wait=5, interval=60)
    first = make_stage(database, clock, (robot,), target)
    alerts = [notice({"alertname": "X", "instance": i}, FIRING, clock.now()) for i in "ab"]
    await first.deliver(alerts)
    await run_for(clock, first, 6)
    assert len(robot.sent) == 1

    # A new process on the same database: the engine re-delivers the alerts (at least once).
    restarted = make_stage(database, clock, (robot,), target)
    await restarted.deliver(alerts)
    await run_for(clock, restarted, 200)
    assert len(robot.sent) == 1
    # A real change still goes out, once.
    await restarted.deliver([notice({"alertname": "X", "instance": "a"}, RESOLVED, clock.now())])
    await run_for(clock, restarted, 61)
    assert [n.status for n in robot.sent] == ["firing", "firing"]
    assert sorted((a.labels["instance"], a.status) for a in robot.sent[1].alerts) == [
        ("a", "resolved"),
        ("b", "firing"),
    ]


async def test_two_replicas_on_one_database_send_a_group_once(database: Database) -> None:
    clock = ManualClock()
    robot = RecordingChannel("dingtalk")
    target = route(wait=5)
    replicas = [make_stage(database, clock, (robot,), target) for _ in range(2)]
    alert = notice({"alertname": "X"}, FIRING, clock.now())
    for replica in replicas:
        await replica.deliver([alert])
    clock.advance(6)
    for replica in replicas:
        await replica.tick()
    assert len(robot.sent) == 1


async def test_failing_channel_hands_the_notification_to_the_next(database: Database) -> None:
    clock = ManualClock()
    dingtalk = RecordingChannel("dingtalk", (Outcome.RETRY, Outcome.RETRY, Outcome.RETRY))
    wecom = RecordingChannel("wecom")
    sleep = NoSleep()
    stage = make_stage(database, clock, (dingtalk, wecom), route(wait=1), sleep=sleep)
    labels = {"alertname": "SupplierDown"}
    await stage.deliver([notice(labels, FIRING, clock.now())])
    await run_for(clock, stage, 2)
    assert dingtalk.calls == 3 and dingtalk.sent == []
    # Exponential backoff with equal jitter between the attempts: 1 s then 2 s, halved at most.
    assert len(sleep.waits) == 2
    assert 0.5 <= sleep.waits[0] <= 1.0 and 1.0 <= sleep.waits[1] <= 2.0
    assert [n.receiver for n in wecom.sent] == ["team"]
    details = [e.detail for e in AlertRepository(database).history(fingerprint(labels))]
    assert details[-1]["channel"] == "wecom" and details[-1]["outcome"] == "sent"


async def test_final_failure_falls_back_without_retrying(database: Database) -> None:
    clock = ManualClock()
    dingtalk = RecordingChannel("dingtalk", (Outcome.FAILED,))
    wecom = RecordingChannel("wecom")
    stage = make_stage(database, clock, (dingtalk, wecom), route(wait=1))
    await stage.deliver([notice({"alertname": "X"}, FIRING, clock.now())])
    await run_for(clock, stage, 2)
    assert dingtalk.calls == 1 and len(wecom.sent) == 1


async def test_sixty_alerts_in_a_minute_become_a_few_digests_with_none_lost(
    database: Database,
) -> None:
    clock = ManualClock()
    robot = RateLimitedRobot(clock)
    stage = make_stage(
        database,
        clock,
        (robot,),
        route(group_by=("alertname", "instance"), wait=1, interval=300),
        budget=SlidingWindowBudget(20, 60.0),
    )
    for index in range(60):
        labels = {"alertname": "DeliveryRateLow", "instance": f"i{index:02}"}
        await stage.deliver([notice(labels, FIRING, clock.now())])
        clock.advance(1)
        await stage.tick()
    await run_for(clock, stage, 60)
    assert robot.refused == 0  # the limit was never hit
    delivered = [name for n in robot.sent for name in alert_names(n)]
    assert sorted(delivered) == [f"i{index:02}" for index in range(60)]  # none lost, none twice
    digests = [n for n in robot.sent if len(n.alerts) > 1]
    assert len(robot.sent) <= 20 and len(digests) >= 3


CRITICAL = {"alertname": "SupplierDown", "instance": "crit", "severity": "critical"}


async def critical_after_the_budget_went_short(
    database: Database, clock: ManualClock, channels: tuple[RecordingChannel, ...]
) -> AlertingStage:
    """A stage whose first channel has a budget of 4 a minute: three warnings take it down to
    its reserve (the last leaves as a digest), then a critical alert arrives."""
    stage = make_stage(
        database,
        clock,
        channels,
        route(group_by=("instance",), wait=0),
        budget=SlidingWindowBudget(4, 60.0),
    )
    for index in range(3):
        await stage.deliver(
            [notice({"alertname": "W", "instance": f"w{index}"}, FIRING, clock.now())]
        )
        await stage.tick()
    await stage.deliver([notice(CRITICAL, FIRING, clock.now())])
    return stage


async def test_critical_alert_that_would_wait_goes_out_on_the_next_channel(
    database: Database,
) -> None:
    clock = ManualClock()
    robot = RateLimitedRobot(clock)
    voice = RecordingChannel("voice")
    stage = await critical_after_the_budget_went_short(database, clock, (robot, voice))
    await stage.tick()
    assert [alert_names(n) for n in voice.sent] == [["crit"]]
    assert "crit" not in [name for n in robot.sent for name in alert_names(n)]


async def test_critical_alert_with_no_next_channel_goes_out_in_the_next_digest(
    database: Database,
) -> None:
    clock = ManualClock()
    robot = RateLimitedRobot(clock)
    stage = await critical_after_the_budget_went_short(database, clock, (robot,))
    # The next digest is due a pace (30 s) after the last, long before group_interval (5 min).
    await run_for(clock, stage, 35)
    assert robot.refused == 0
    assert "crit" in [name for n in robot.sent for name in alert_names(n)]


async def test_a_digest_carries_no_ack_link_and_each_group_message_its_own(
    database: Database,
) -> None:
    clock = ManualClock()
    robot = RateLimitedRobot(clock)
    stage = make_stage(
        database,
        clock,
        (robot,),
        route(group_by=("instance",), wait=0, escalation="page"),
        budget=SlidingWindowBudget(4, 60.0),
        ack_url=lambda group_key, episode_id: f"https://smsctl.example/ack/{episode_id}",
        escalator=escalator_on(database, clock),
    )
    for index in range(2):  # within budget: one message each
        await stage.deliver(
            [notice({"alertname": "W", "instance": f"w{index}"}, FIRING, clock.now())]
        )
        await stage.tick()
    await stage.deliver(  # three groups at once with the budget short: one digest
        [
            notice({"alertname": "W", "instance": f"d{index}"}, FIRING, clock.now())
            for index in range(3)
        ]
    )
    await stage.tick()
    alone = [n for n in robot.sent if len(n.alerts) == 1]
    digests = [n for n in robot.sent if len(n.alerts) > 1]
    assert [alert_names(n) for n in digests] == [["d0", "d1", "d2"]]
    # Each group's message links to its own escalation episode.
    episodes = {n.group_key: n.episode_id for n in alone}
    assert len(episodes) == 2 and None not in episodes.values()
    assert len(set(episodes.values())) == 2
    assert all(n.ack_url == f"https://smsctl.example/ack/{n.episode_id}" for n in alone)
    assert digests and all(n.ack_url is None and n.episode_id is None for n in digests)


async def test_a_group_that_does_not_escalate_gets_no_ack_link(database: Database) -> None:
    clock = ManualClock()
    robot = RecordingChannel("dingtalk")
    stage = make_stage(
        database,
        clock,
        (robot,),
        route(wait=0),
        ack_url=lambda group_key, episode_id: f"https://smsctl.example/ack/{episode_id}",
        escalator=escalator_on(database, clock),
    )
    await stage.deliver([notice({"alertname": "W"}, FIRING, clock.now())])
    await stage.tick()
    [message] = robot.sent
    assert message.ack_url is None and message.episode_id is None  # no episode a link could ack


async def test_restart_does_not_resend_on_mariadb(mariadb_url: str) -> None:
    database = Database(mariadb_url)
    database.upgrade(CONTROL_PLANE_HISTORY)
    clock = ManualClock()
    robot = RecordingChannel("dingtalk")
    target = route(wait=5, interval=60)
    alert = notice({"alertname": "X", "instance": "a"}, FIRING, clock.now())
    first = make_stage(database, clock, (robot,), target)
    await first.deliver([alert])
    await run_for(clock, first, 6)
    restarted = make_stage(database, clock, (robot,), target)
    await restarted.deliver([alert])
    await run_for(clock, restarted, 130)
    assert len(robot.sent) == 1


async def test_a_group_another_replica_notified_while_ours_waited_is_not_sent_again(
    database: Database,
) -> None:
    clock = ManualClock()
    robot = RecordingChannel("dingtalk")
    target = route(wait=5)
    ours, theirs = (make_stage(database, clock, (robot,), target) for _ in range(2))
    alert = notice({"alertname": "X"}, FIRING, clock.now())
    await ours.deliver([alert])
    await asyncio.sleep(0.2)  # ours reads the (still empty) log in a worker thread meanwhile
    await theirs.deliver([alert])
    clock.advance(6)
    assert await theirs.tick() == 1
    assert await ours.tick() == 0  # the state is claimed already: the claim decides, not the read
    assert len(robot.sent) == 1
