"""Client-side budgets from alerting.yaml: voice per callee and WeCom app per member hold."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import datetime

import httpx
import pytest
from notifier_samples import notification
from receiver_world import T0, no_sleep, receiver_sender

from controlplane.alerting.channels import ChannelServices, build_receivers
from controlplane.alerting.config import parse_alerting_config
from controlplane.alerting.pipeline import AlertingStage
from controlplane.engine.alerts import Alert, AlertState, AlertTransition, fingerprint
from controlplane.engine.runtime.sink import AlertNotice
from controlplane.storage import CONTROL_PLANE_HISTORY, Database
from smsplatform.clock import ManualClock
from testbench.fakes.server import running_fake
from testbench.fakes.voice import VoiceFake
from testbench.fakes.webhook import WebhookReceiverFake
from testbench.fakes.wecom_app import FakeApp, WeComAppFake

KEY_ID, KEY_SECRET, TTS = "LTAIvoice", "voice-secret", "TTS_100001"
CALLEE = "+8613800138000"
VOICE_THEN_WEBHOOK = """
receivers:
  - name: phone
    voice_configs:
      - to: ['{callee}']
        tts_code: {tts}
    webhook_configs:
      - url: {hook}/fallback
"""


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


async def test_a_second_call_to_one_callee_within_a_minute_goes_to_the_next_channel(
    clock: ManualClock,
) -> None:
    voice = VoiceFake({KEY_ID: KEY_SECRET}, frozenset({TTS}), clock=clock)
    hook = WebhookReceiverFake(clock)
    async with AsyncExitStack() as stack:
        voice_url = await stack.enter_async_context(running_fake(voice.app))
        hook_url = await stack.enter_async_context(running_fake(hook.app))
        services = ChannelServices(
            voice_api_url=voice_url, voice_access_key_id=KEY_ID, voice_access_key_secret=KEY_SECRET
        )
        config = VOICE_THEN_WEBHOOK.format(callee=CALLEE, tts=TTS, hook=hook_url)
        send = await stack.enter_async_context(receiver_sender(config, "phone", clock, services))
        first = await send(notification())
        clock.advance(30)
        second = await send(notification())
        clock.advance(31)  # a minute after the first call: the callee may be called again
        third = await send(notification())
    assert [first.channel, second.channel, third.channel] == ["voice", "webhook", "voice"]
    assert second.attempts[0].error_code == "budget"
    # Every call the client placed was one the service took: none hit its per-callee limit.
    assert [r.endpoint for r in voice.inbox.received] == [CALLEE, CALLEE]
    assert len(hook.raw) == 1


WECOM_APP = """
route:
  receiver: app
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: app
    wecom_app_configs:
      - corp_id: ww1
        corp_secret: app-secret
        agent_id: 1000002
        to_user: zhangsan
"""
GROUPS = 40
INSTANCE = re.compile(r"instance=(node-\d\d)")


def firing(instance: str, at: datetime) -> AlertNotice:
    labels = {"alertname": "DiskFull", "severity": "warning", "instance": instance}
    alert = Alert(fingerprint(labels), labels, AlertState.FIRING, 0.97, at, started_at=at)
    transition = AlertTransition(alert, AlertState.PENDING, at)
    return AlertNotice("disk/full", transition, {"summary": f"{instance} disk full"})


@pytest.fixture
async def wecom_app(clock: ManualClock) -> AsyncIterator[tuple[WeComAppFake, str]]:
    fake = WeComAppFake([FakeApp("ww1", "app-secret", 1000002)], clock)
    async with running_fake(fake.app) as url:
        yield fake, url


async def test_wecom_app_messages_past_30_a_minute_to_one_member_are_digested_none_dropped(
    clock: ManualClock, wecom_app: tuple[WeComAppFake, str], sqlite_url: str
) -> None:
    fake, url = wecom_app
    database = Database(sqlite_url)
    database.upgrade(CONTROL_PLANE_HISTORY)
    async with httpx.AsyncClient(timeout=5.0) as client:
        config = parse_alerting_config(WECOM_APP)
        stage = AlertingStage(
            database=database,
            route=config.route,
            receivers=build_receivers(
                config.receivers, clock, ChannelServices(wecom_api_url=url), client
            ),
            clock=clock,
            sleep=no_sleep,
        )
        for second in range(GROUPS):  # a new group every second and a half
            await stage.deliver([firing(f"node-{second:02d}", clock.now())])
            await stage.tick()
            clock.advance(1.5)
        for _ in range(120):  # two quiet minutes for what waits to go out
            await stage.tick()
            clock.advance(1)
    database.dispose()

    received = fake.inbox.received
    assert [r.note for r in received if r.note] == []  # WeCom dropped nothing silently
    texts = [r.body["text"]["content"] for r in received]
    instances = sorted(found for text in texts for found in INSTANCE.findall(text))
    assert instances == [f"node-{n:02d}" for n in range(GROUPS)]  # each once, none lost
    assert len(received) < GROUPS  # some went out together as digests
