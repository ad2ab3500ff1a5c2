"""DingTalk's 20-a-minute limit, against the faithful robot fake: 60 alerts become a few digests."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from controlplane.alerting.channels import ChannelServices, build_receivers
from controlplane.alerting.config import parse_alerting_config
from controlplane.alerting.pipeline import AlertingStage
from controlplane.engine.alerts import Alert, AlertState, AlertTransition, fingerprint
from controlplane.engine.runtime.sink import AlertNotice
from controlplane.storage import CONTROL_PLANE_HISTORY, Database
from smsplatform.clock import ManualClock
from testbench.fakes.dingtalk import DingTalkFake, FakeRobot
from testbench.fakes.server import running_fake

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
TOKEN, SECRET = "ops-robot", "SECops-robot-secret"
ALERTS = 60
CONFIG = """
route:
  receiver: ops
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: ops
    dingtalk_configs:
      - webhook_url: {url}/robot/send?access_token={token}
        secret: {secret}
"""
INSTANCE = re.compile(r"instance=(node-\d\d)")


def firing(instance: str, at: datetime) -> AlertNotice:
    labels = {"alertname": "DiskFull", "severity": "warning", "instance": instance}
    alert = Alert(
        fingerprint=fingerprint(labels),
        labels=labels,
        state=AlertState.FIRING,
        value=0.97,
        active_since=at,
        started_at=at,
    )
    transition = AlertTransition(alert, AlertState.PENDING, at)
    return AlertNotice("disk/full", transition, {"summary": f"{instance} disk 97% full"})


async def no_sleep(_: float) -> None:
    return None


async def test_sixty_alerts_in_a_minute_reach_one_robot_as_a_few_digests_none_lost(
    sqlite_url: str,
) -> None:
    clock = ManualClock(T0)
    robot = DingTalkFake([FakeRobot(TOKEN, SECRET)], clock)
    database = Database(sqlite_url)
    database.upgrade(CONTROL_PLANE_HISTORY)
    async with running_fake(robot.app) as url, httpx.AsyncClient(timeout=5.0) as client:
        config = parse_alerting_config(CONFIG.format(url=url, token=TOKEN, secret=SECRET))
        stage = AlertingStage(
            database=database,
            route=config.route,
            receivers=build_receivers(config.receivers, clock, ChannelServices(), client),
            clock=clock,
            sleep=no_sleep,
        )
        for second in range(ALERTS):  # one new alert group a second for a minute
            await stage.deliver([firing(f"node-{second:02d}", clock.now())])
            await stage.tick()
            clock.advance(1)
        for _ in range(180):  # then three quiet minutes for what waits to go out
            await stage.tick()
            clock.advance(1)
    database.dispose()

    received = robot.inbox.received
    texts = [message.body["markdown"]["text"] for message in received]
    instances = [found for text in texts for found in INSTANCE.findall(text)]
    assert sorted(instances) == [f"node-{n:02d}" for n in range(ALERTS)]  # each once, none lost
    digests = [text for text in texts if len(INSTANCE.findall(text)) > 1]
    assert len(received) <= 20 and len(digests) >= 5  # 11 alone, then 8 digests of 6, 1 alone
    # The budget held: the robot never answered 130101 (it would have blocked itself for 10 min).
    assert robot.robots[TOKEN].blocked_until is None
    sent_at = [message.at for message in received]
    assert all(
        sum(1 for t in sent_at if 0 <= (t - start).total_seconds() < 60) <= 20 for start in sent_at
    )
