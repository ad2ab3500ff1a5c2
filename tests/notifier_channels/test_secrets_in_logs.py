"""Webhook URLs and robot tokens never appear in the logs, whatever happens to a send."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from notifier_samples import notification

from notifiers.base import Outcome
from notifiers.dingtalk import DingTalkConfig, DingTalkNotifier
from notifiers.webhook import WebhookConfig, WebhookNotifier
from notifiers.wecom import WeComRobotConfig, WeComRobotNotifier
from smsplatform.clock import ManualClock
from testbench.fakes.dingtalk import DingTalkFake, FakeRobot
from testbench.fakes.server import running_fake
from testbench.fakes.webhook import WebhookReceiverFake

PATH_SECRET = "T0001-B0002-pathsecret0123"
QUERY_SECRET = "querysecret4567"
ROBOT_TOKEN = "robot-token-not-registered-89ab"
SECRETS = (PATH_SECRET, QUERY_SECRET, ROBOT_TOKEN)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for ours in ("notifiers", "controlplane"):
        caplog.set_level(logging.DEBUG, logger=ours)
    return caplog


def assert_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records, "the failure was not logged at all"
    for record in caplog.records:
        text = record.getMessage() + (caplog.text if record.exc_info else "")
        for secret in SECRETS:
            assert secret not in text, f"{record.name}: {text}"


async def test_a_refused_webhook_logs_its_host_but_not_its_url(
    logs: pytest.LogCaptureFixture,
) -> None:
    fake = WebhookReceiverFake()
    fake.status = 404
    async with running_fake(fake.app) as base_url:
        url = f"{base_url}/hooks/{PATH_SECRET}?key={QUERY_SECRET}"
        notifier = WebhookNotifier(WebhookConfig(url))
        result = await notifier.send(notification())
        await notifier.aclose()

    assert result.outcome is Outcome.FAILED
    assert_no_secret(logs)
    assert "webhook refused url=http://127.0.0.1:" in logs.text


async def test_an_unreachable_webhook_logs_no_url(logs: pytest.LogCaptureFixture) -> None:
    notifier = WebhookNotifier(WebhookConfig(f"http://127.0.0.1:9/hooks/{PATH_SECRET}"))
    result = await notifier.send(notification())
    await notifier.aclose()

    assert result.outcome is Outcome.RETRY
    assert_no_secret(logs)


async def test_robots_refusing_a_token_log_no_token(logs: pytest.LogCaptureFixture) -> None:
    clock = ManualClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    fake = DingTalkFake([FakeRobot("registered")], clock)
    async with running_fake(fake.app) as base_url:
        dingtalk = DingTalkNotifier(
            DingTalkConfig(access_token=ROBOT_TOKEN, base_url=base_url), clock=clock
        )
        refused = await dingtalk.send(notification())
        await dingtalk.aclose()
    wecom = WeComRobotNotifier(WeComRobotConfig(key=ROBOT_TOKEN, base_url="http://127.0.0.1:9"))
    unreachable = await wecom.send(notification(recipients=()))
    await wecom.aclose()

    assert (refused.outcome, unreachable.outcome) == (Outcome.FAILED, Outcome.RETRY)
    assert_no_secret(logs)
