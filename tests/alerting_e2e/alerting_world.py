"""A control plane with alerting.yaml on SQLite and a ManualClock, and the fakes it calls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from controlplane.service import ControlPlane
from controlplane.settings import Settings
from controlplane.web.app import create_app
from smsplatform.clock import ManualClock
from testbench.fakes.dingtalk import DingTalkFake, FakeRobot
from testbench.fakes.server import running_fake
from testbench.fakes.voice import VoiceFake
from testbench.fakes.wecom import WeComRobotFake

TOKEN = "alerting-e2e-admin-token-0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
ROBOT_TOKEN, ROBOT_SECRET, WECOM_KEY = "ops-robot", "SECops-robot-secret", "ops-wecom-key"
VOICE_KEY_ID, VOICE_SECRET, TTS_CODE = "LTAIvoice", "voice-secret", "TTS_100001"
PRIMARY_PHONE = "+8613800138000"
# Set in the voice service's console as part of the callback URL; its receipt pushes carry it.
CALLBACK_TOKEN = "voice-callback-token-0123456789"

RULES = """
groups:
  - name: delivery
    # Tests evaluate by hand on a ManualClock: the scheduler (real time) must never beat them to
    # it, or it would evaluate at a manual instant minutes on and resolve the alert.
    interval: 1h
    rules:
      - alert: SupplierDeliveryRateLow
        source: receipts
        by: [supplier, carrier]
        window: 60s
        when: delivery_rate < 0.9 && total >= 50
        for: 0s
        labels: {severity: critical}
        annotations:
          summary: "{{ labels.supplier }} to {{ labels.carrier }}: delivery {{ value | percent }}"
"""

ALERTING = """
route:
  receiver: ops
  group_by: [alertname, supplier]
  group_wait: 30s
  group_interval: 1m
  repeat_interval: 4h
  escalation: page
receivers:
  - name: ops
    dingtalk_configs:
      - webhook_url: {dingtalk}/robot/send?access_token={robot}
        secret: {secret}
    wecom_configs:
      - webhook_url: {wecom}/cgi-bin/webhook/send?key={wecom_key}
  - name: phone-primary
    voice_configs:
      - to: ['oncall:primary@sms-team']
        tts_code: {tts}
escalations:
  - name: page
    steps:
      - {{after: 5m, receivers: [phone-primary]}}
      - {{after: 10m, receivers: [phone-primary]}}
oncall:
  schedules:
    - name: sms-team
      time_zone: Asia/Shanghai
      layers:
        - name: primary
          rotation: weekly
          start: 2026-01-05
          members: [{{name: zhang, phone: '{phone}'}}]
"""


@dataclass
class Fakes:
    dingtalk: DingTalkFake
    wecom: WeComRobotFake
    voice: VoiceFake
    urls: dict[str, str]


@dataclass
class World:
    clock: ManualClock
    fakes: Fakes
    service: ControlPlane
    http: httpx.AsyncClient

    async def feed(self, delivered_share: float, supplier: str = "aliyun") -> None:
        """Post 100 receipts and wait until the rule windows hold them."""
        before = self.service.rules.feeder.events_fed
        answer = await self.http.post(
            "/v1/events/receipts",
            content=receipts(100, delivered_share, supplier, self.clock.now()),
            headers={**HEADERS, "Content-Type": "application/x-ndjson"},
        )
        assert answer.status_code == 202, answer.text
        expected = before + answer.json()["accepted"]
        deadline = time.monotonic() + 5
        while self.service.rules.feeder.events_fed < expected:
            assert time.monotonic() < deadline, "the windows never saw the receipts"
            await asyncio.sleep(0.01)

    async def evaluate(self) -> None:
        await self.service.rules.evaluate_all()

    async def advance(self, seconds: float) -> int:
        """Move time on second by second, ticking the alerting stage as its scheduler would."""
        assert self.service.alerting is not None
        sent = 0
        for _ in range(int(seconds)):
            self.clock.advance(1)
            sent += await self.service.alerting.stage.tick()
        return sent

    def dingtalk_texts(self) -> list[str]:
        return [body["markdown"]["text"] for body in self.fakes.dingtalk.inbox.bodies()]


async def fire(world: World) -> None:
    """Half the receipts fail: the delivery-rate rule fires on its next evaluation."""
    await world.feed(delivered_share=0.5)
    await world.evaluate()


def receipts(count: int, delivered_share: float, supplier: str, at: datetime) -> bytes:
    lines = []
    for n in range(count):
        status = "DELIVERED" if n < count * delivered_share else "FAILED"
        event = {
            "message_id": f"{supplier}-{n}-{time.monotonic_ns()}",
            "supplier": supplier,
            "carrier": "cmcc",
            "message_class": "otp",
            "status": status,
            "submitted_at": at.isoformat(),
            "reported_at": (at + timedelta(seconds=3)).isoformat(),
        }
        lines.append(orjson.dumps(event))
    return b"\n".join(lines)


@asynccontextmanager
async def channel_fakes(clock: ManualClock) -> AsyncIterator[Fakes]:
    dingtalk = DingTalkFake([FakeRobot(ROBOT_TOKEN, ROBOT_SECRET)], clock)
    wecom = WeComRobotFake([WECOM_KEY], clock)
    voice = VoiceFake({VOICE_KEY_ID: VOICE_SECRET}, frozenset({TTS_CODE}), clock=clock)
    async with AsyncExitStack() as stack:
        urls = {
            "dingtalk": await stack.enter_async_context(running_fake(dingtalk.app)),
            "wecom": await stack.enter_async_context(running_fake(wecom.app)),
            "voice": await stack.enter_async_context(running_fake(voice.app)),
        }
        yield Fakes(dingtalk, wecom, voice, urls)


def write_config(directory: Path, fakes: Fakes, template: str = ALERTING) -> tuple[Path, Path]:
    rules = directory / "rules.yaml"
    rules.write_text(RULES)
    alerting = directory / "alerting.yaml"
    alerting.write_text(
        template.format(
            dingtalk=fakes.urls["dingtalk"],
            robot=ROBOT_TOKEN,
            secret=ROBOT_SECRET,
            wecom=fakes.urls["wecom"],
            wecom_key=WECOM_KEY,
            tts=TTS_CODE,
            phone=PRIMARY_PHONE,
        )
    )
    return rules, alerting


def settings(database_url: str, rules: Path, alerting: Path, fakes: Fakes, port: int) -> Settings:
    raw: dict[str, Any] = {
        "database": {"url": database_url},
        # Served over plain HTTP: the console's cookie must not be Secure to come back.
        "server": {"secure_cookie": False},
        "bus": {"backend": "memory", "ack_wait_s": 1.0},
        "rules": {"paths": [str(rules)], "watch": False},
        "prometheus": {"url": "http://127.0.0.1:9", "query_timeout_s": 1.0},
        "auth": {"tokens": [{"name": "root", "token": TOKEN, "scopes": ["admin"]}]},
        "alerting": {
            "config": str(alerting),
            "ack_secret": "e2e-ack-secret-0123456789",
            "public_url": f"http://127.0.0.1:{port}",
            "voice_api_url": fakes.urls["voice"],
            "voice_access_key_id": VOICE_KEY_ID,
            "voice_access_key_secret": VOICE_SECRET,
            "voice_callback_token": CALLBACK_TOKEN,
        },
    }
    return Settings.model_validate(raw)


@asynccontextmanager
async def control_plane(
    database_url: str, directory: Path, clock: ManualClock, fakes: Fakes, template: str = ALERTING
) -> AsyncIterator[World]:
    """A started ControlPlane served on a free port (the voice fake calls back into it)."""
    rules, alerting = write_config(directory, fakes, template)
    async with AsyncExitStack() as stack:
        # Ack links need the port, known only once serving: the server calls through a holder.
        holder: dict[str, Any] = {}

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await holder["app"](scope, receive, send)

        url = await stack.enter_async_context(running_fake(app))
        port = int(url.rsplit(":", 1)[1])
        service = ControlPlane(
            settings(database_url, rules, alerting, fakes, port),
            environ={},
            clock=clock,
            tick_alerting=False,
        )
        holder["app"] = create_app(service)
        fakes.voice.callback_url = f"{url}/v1/callbacks/voice?token={CALLBACK_TOKEN}"
        await service.start()
        stack.push_async_callback(service.stop)
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=5.0))
        yield World(clock, fakes, service, http)


@asynccontextmanager
async def started_world(
    database_url: str, directory: Path, template: str = ALERTING
) -> AsyncIterator[World]:
    """The channel fakes and a control plane on a ManualClock at T0, both started."""
    clock = ManualClock(T0)
    async with (
        channel_fakes(clock) as fakes,
        control_plane(database_url, directory, clock, fakes, template) as world,
    ):
        yield world
