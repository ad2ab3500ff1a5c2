"""A cut-over reaches people through the real alerting stage: a DingTalk message names it."""

from __future__ import annotations

import random
from pathlib import Path

from controlplane.service import ControlPlane
from controlplane.settings import Settings
from smsplatform.clock import ManualClock
from testbench.fakes.dingtalk import DingTalkFake, FakeRobot
from testbench.fakes.server import running_fake
from tests.actions_cutover.world import SUPPLIERS, T0, receipt, routes

ROBOT, SECRET = "ops-robot", "SECops-robot-secret"
ALERTING = """
route:
  receiver: ops
  group_by: [alertname, carrier]
  group_wait: 5s
  group_interval: 1m
  repeat_interval: 4h
receivers:
  - name: ops
    dingtalk_configs:
      - webhook_url: {url}/robot/send?access_token={robot}
        secret: {secret}
"""


async def test_cut_over_and_canary_are_announced_on_dingtalk(
    tmp_path: Path, sqlite_url: str
) -> None:
    clock = ManualClock(T0)
    dingtalk = DingTalkFake([FakeRobot(ROBOT, SECRET)], clock)
    async with running_fake(dingtalk.app) as url:
        alerting = tmp_path / "alerting.yaml"
        alerting.write_text(ALERTING.format(url=url, robot=ROBOT, secret=SECRET))
        config = Settings.model_validate(
            {
                "database": {"url": sqlite_url},
                "alerting": {"config": str(alerting), "ack_secret": "cutover-ack-secret-0123"},
                "cutover": {
                    "routes": [r.model_dump() for r in routes()],
                    "failback": {"cooldown_s": 30},
                },
            }
        )
        service = ControlPlane(config, environ={}, clock=clock, tick_alerting=False)
        await service.start()
        try:
            assert service.alerting is not None
            rng = random.Random(4)
            for second in range(40):
                clock.advance(1)
                failing = second >= 30
                rates = {s: 0.4 if failing and s == "tencent" else 0.97 for s in SUPPLIERS}
                batch = [receipt(s, rng.random() < rates[s], clock.now()) for s in SUPPLIERS * 10]
                await service.cutover.observe_receipts(batch)
                await service.alerting.stage.tick()
            for _ in range(30):  # cool-down over: canary
                clock.advance(1)
                await service.cutover.decide()
                await service.alerting.stage.tick()
            for _ in range(60):
                clock.advance(1)
                await service.alerting.stage.tick()
        finally:
            await service.stop()
    texts = [body["markdown"]["text"] for body in dingtalk.inbox.bodies()]
    cut_over = "cut over tencent→aliyun,twilio,cmpp on carrier cmcc for class otp: delivery"
    assert any(cut_over in text for text in texts), texts
    assert any("canary tencent on carrier cmcc for class otp: 1% of traffic" in t for t in texts)
