"""What alerting.yaml says of a receiver reaches the wire: templates, auth, msgtypes, mentions."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
from notifier_samples import notification
from receiver_world import T0, send_through

from controlplane.alerting.config import parse_alerting_config
from smsplatform.clock import ManualClock
from smsplatform.config.yamlsource import ConfigError
from testbench.fakes.dingtalk import DingTalkFake, FakeRobot
from testbench.fakes.server import running_fake
from testbench.fakes.webhook import WebhookReceiverFake
from testbench.fakes.wecom import WeComRobotFake

TOKEN, SECRET, KEY = "ops-robot", "SECops-robot-secret", "ops-wecom-key"
DINGTALK = """
receivers:
  - name: ops
    dingtalk_configs:
      - webhook_url: {url}/robot/send?access_token={token}
        secret: {secret}
"""


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def dingtalk(clock: ManualClock) -> AsyncIterator[tuple[DingTalkFake, str]]:
    fake = DingTalkFake([FakeRobot(TOKEN, SECRET)], clock)
    async with running_fake(fake.app) as url:
        yield fake, url


def dingtalk_yaml(url: str, extra: str = "", top: str = "") -> str:
    return top + DINGTALK.format(url=url, token=TOKEN, secret=SECRET) + extra


async def test_a_markdown_template_in_alerting_yaml_changes_the_dingtalk_text(
    dingtalk: tuple[DingTalkFake, str], clock: ManualClock
) -> None:
    fake, url = dingtalk
    top = 'templates:\n  markdown: "On call, look at {{ summary }} ({{ n.alerts | length }})"\n'
    delivery = await send_through(dingtalk_yaml(url, top=top), "ops", notification(), clock)
    assert delivery.delivered
    [message] = fake.inbox.bodies(TOKEN)
    assert message["markdown"]["text"].startswith("On call, look at Delivery rate below 90%")
    assert "(1)" in message["markdown"]["text"]


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ('"{{ summary "', "template 'markdown' does not compile"),
        ('"{{ summery }}"', "template 'markdown' fails on a sample alert: 'summery' is undefined"),
    ],
)
def test_a_template_that_does_not_work_is_a_load_error_naming_file_and_line(
    source: str, problem: str
) -> None:
    text = f"route:\n  receiver: ops\nreceivers:\n  - name: ops\ntemplates:\n  markdown: {source}\n"
    with pytest.raises(ConfigError) as raised:
        parse_alerting_config(text, "alerting.yaml")
    assert f"alerting.yaml:6: templates.markdown: {problem}" in str(raised.value)


def test_an_unknown_template_name_is_a_load_error() -> None:
    text = "route:\n  receiver: ops\nreceivers:\n  - name: ops\ntemplates:\n  email: hi\n"
    with pytest.raises(ConfigError) as raised:
        parse_alerting_config(text, "alerting.yaml")
    assert "alerting.yaml:6: templates.email: unknown key in templates" in str(raised.value)


async def test_a_dingtalk_receiver_can_send_an_action_card_with_the_console_button(
    dingtalk: tuple[DingTalkFake, str], clock: ManualClock
) -> None:
    fake, url = dingtalk
    config = dingtalk_yaml(url, "        msgtype: actionCard\n")
    assert (await send_through(config, "ops", notification(), clock)).delivered
    [message] = fake.inbox.bodies(TOKEN)
    assert message["msgtype"] == "actionCard"
    card = message["actionCard"]
    assert (card["singleTitle"], card["singleURL"]) == ("Console", "http://console.local/alerts/g1")


def test_a_dingtalk_msgtype_it_cannot_send_is_a_load_error() -> None:
    config = dingtalk_yaml("http://robot.local", "        msgtype: feedCard\n")
    with pytest.raises(ConfigError) as raised:
        parse_alerting_config("route:\n  receiver: ops\n" + config, "alerting.yaml")
    assert "receivers.0.dingtalk_configs.0.msgtype: 'feedCard'" in str(raised.value)


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[WebhookReceiverFake, str]]:
    fake = WebhookReceiverFake()
    async with running_fake(fake.app) as url:
        yield fake, url


@pytest.mark.parametrize(
    ("http_config", "header"),
    [
        (
            "basic_auth: {username: alertmanager, password: s3cret}",
            "Basic " + base64.b64encode(b"alertmanager:s3cret").decode(),
        ),
        ("authorization: {credentials: tok-123}", "Bearer tok-123"),
        ("authorization: {type: Token, credentials: tok-123}", "Token tok-123"),
        ("bearer_token: tok-456", "Bearer tok-456"),
    ],
)
async def test_webhook_http_config_credentials_reach_the_receiver_as_authorization(
    webhook: tuple[WebhookReceiverFake, str], clock: ManualClock, http_config: str, header: str
) -> None:
    fake, url = webhook
    config = f"""
receivers:
  - name: hook
    webhook_configs:
      - url: {url}/hook
        http_config: {{{http_config}}}
"""
    assert (await send_through(config, "hook", notification(), clock)).delivered
    [headers] = fake.headers
    assert headers["authorization"] == header


def test_webhook_http_config_with_two_kinds_of_credentials_is_a_load_error() -> None:
    text = """route: {receiver: hook}
receivers:
  - name: hook
    webhook_configs:
      - url: http://hook.local/
        http_config:
          bearer_token: a
          basic_auth: {username: u, password: p}
"""
    with pytest.raises(ConfigError) as raised:
        parse_alerting_config(text, "alerting.yaml")
    assert "alerting.yaml:6: receivers.0.webhook_configs.0.http_config: at most one of" in str(
        raised.value
    )


@pytest.fixture
async def wecom(clock: ManualClock) -> AsyncIterator[tuple[WeComRobotFake, str]]:
    fake = WeComRobotFake([KEY], clock)
    async with running_fake(fake.app) as url:
        yield fake, url


WECOM = """
receivers:
  - name: ops
    wecom_configs:
      - webhook_url: {url}/cgi-bin/webhook/send?key={key}
{mentions}
oncall:
  schedules:
    - name: sms-team
      time_zone: Asia/Shanghai
      layers:
        - name: primary
          rotation: weekly
          start: 2026-01-05
          members: [{{name: zhang, phone: '+8613800138000'}}]
"""


async def test_a_wecom_robot_with_mentions_sends_text_naming_the_on_call_mobile(
    wecom: tuple[WeComRobotFake, str], clock: ManualClock
) -> None:
    fake, url = wecom
    mentions = "        mentioned_mobiles: ['13900139000', 'oncall:primary@sms-team']"
    config = WECOM.format(url=url, key=KEY, mentions=mentions)
    assert (await send_through(config, "ops", notification(), clock)).delivered
    [message] = fake.inbox.bodies(KEY)
    assert message["msgtype"] == "text"
    assert message["text"]["mentioned_mobile_list"] == ["13900139000", "+8613800138000"]


async def test_a_wecom_robot_without_mentions_sends_markdown(
    wecom: tuple[WeComRobotFake, str], clock: ManualClock
) -> None:
    fake, url = wecom
    config = WECOM.format(url=url, key=KEY, mentions="")
    assert (await send_through(config, "ops", notification(), clock)).delivered
    [message] = fake.inbox.bodies(KEY)
    assert message["msgtype"] == "markdown"
    assert "Delivery rate below 90% on aliyun" in message["markdown"]["content"]
