"""Notifier fakes and an alerting config routing to them, for `make run` on embedded defaults.

With no alerting.yaml configured, `smsctl run --all` would only log its alerts. Instead it serves
the DingTalk, WeCom, webhook and voice fakes in-process and routes every alert to them (with a
voice escalation to an on-call person), so an alert fired by the shipped rules shows up in the
console's inbox page as it would in a chat group or on a phone. The secrets acknowledgement
needs are made for the run: the ack-link secret, and the callback token the voice fake's receipt
pushes carry in their URL, as a callback URL set in the voice service's console would.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from pydantic import SecretStr

from controlplane.alerting.escalation.voice_callback import CALLBACK_PATH, TOKEN_PARAM
from controlplane.settings import AlertingSettings
from controlplane.web.console import ShownFake, running_fakes
from testbench.fakes.dingtalk import DingTalkFake, FakeRobot
from testbench.fakes.server import running_fake
from testbench.fakes.voice import VoiceFake
from testbench.fakes.webhook import WebhookReceiverFake
from testbench.fakes.wecom import WeComRobotFake

ROBOT_TOKEN, ROBOT_SECRET, WECOM_KEY = "demo-robot", "SECdemo-robot-secret", "demo-wecom-key"
VOICE_KEY_ID, VOICE_SECRET, TTS_CODE = "LTAIdemo", "demo-voice-secret", "TTS_100001"
ONCALL_PHONE = "+8613800138000"

ALERTING = """\
# Written by `smsctl run --all` for this run only: every alert goes to the in-process fakes.
route:
  receiver: ops
  group_by: [alertname, supplier]
  group_wait: 30s
  group_interval: 1m
  repeat_interval: 4h
  escalation: page
receivers:
  - name: ops  # channels in order: WeCom, then the webhook, take over when DingTalk fails
    dingtalk_configs:
      - webhook_url: {dingtalk}/robot/send?access_token={robot}
        secret: {secret}
    wecom_configs:
      - webhook_url: {wecom}/cgi-bin/webhook/send?key={wecom_key}
    webhook_configs:
      - url: {webhook}/alertmanager
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
          members: [{{name: demo-oncall, phone: '{phone}'}}]
"""


@dataclass(frozen=True)
class DemoChannels:
    """The alerting settings to run with, and where the fakes serve (none: configured by hand)."""

    alerting: AlertingSettings
    fake_urls: dict[str, str] = field(default_factory=dict)


@asynccontextmanager
async def demo_channels(
    alerting: AlertingSettings, control_url: str
) -> AsyncIterator[DemoChannels]:
    """The fakes serving and settings routing to them; `alerting` as it is if it names a config."""
    if alerting.config is not None:
        yield DemoChannels(alerting)
        return
    callback_token = secrets.token_urlsafe(24)
    callback_url = f"{control_url}{CALLBACK_PATH}?{urlencode({TOKEN_PARAM: callback_token})}"
    fakes: dict[str, DingTalkFake | WeComRobotFake | WebhookReceiverFake | VoiceFake] = {
        "DingTalk": DingTalkFake([FakeRobot(ROBOT_TOKEN, ROBOT_SECRET)]),
        "WeCom": WeComRobotFake([WECOM_KEY]),
        "webhook": WebhookReceiverFake(),
        # A key press on a call reaches the control plane's voice callback, as Dyvms's would.
        "voice": VoiceFake(
            {VOICE_KEY_ID: VOICE_SECRET},
            frozenset({TTS_CODE}),
            callback_url=callback_url,
        ),
    }
    async with AsyncExitStack() as stack:
        urls = {
            name: await stack.enter_async_context(running_fake(fake.app))
            for name, fake in fakes.items()
        }
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="smsctl-")))
        config = directory / "alerting.yaml"
        config.write_text(
            ALERTING.format(
                dingtalk=urls["DingTalk"],
                robot=ROBOT_TOKEN,
                secret=ROBOT_SECRET,
                wecom=urls["WeCom"],
                wecom_key=WECOM_KEY,
                webhook=urls["webhook"],
                tts=TTS_CODE,
                phone=ONCALL_PHONE,
            )
        )
        stack.enter_context(
            running_fakes.showing(
                ShownFake(name, urls[name], fake.inbox) for name, fake in fakes.items()
            )
        )
        settings = alerting.model_copy(
            update={
                "config": str(config),
                "public_url": control_url,
                "voice_api_url": urls["voice"],
                "voice_access_key_id": VOICE_KEY_ID,
                "voice_access_key_secret": SecretStr(VOICE_SECRET),
                "voice_callback_token": SecretStr(callback_token),
                # Links die with the run, as the alerts of an embedded demo do.
                "ack_secret": alerting.ack_secret or SecretStr(secrets.token_urlsafe(32)),
            }
        )
        yield DemoChannels(settings, urls)
