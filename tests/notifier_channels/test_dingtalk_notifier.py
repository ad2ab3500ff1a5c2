"""The DingTalk robot client against the faithful fake: signing, keywords, rate limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from clock_skew import AnswerLog, SkewedFirstReadClock
from notifier_samples import notification

from notifiers.base import NotifyResult, Outcome
from notifiers.dingtalk import (
    DingTalkConfig,
    DingTalkNotifier,
    classify,
    dingtalk_signature,
    is_stale_timestamp,
)
from smsplatform.clock import Clock, ManualClock
from testbench.fakes.dingtalk import DingTalkFake, FakeRobot
from testbench.fakes.server import running_fake

SECRET = "SECb1f0c5ad5e2b4b7e9f9c3d2a1e0f+/=="


@dataclass
class World:
    fake: DingTalkFake
    base_url: str
    clock: ManualClock

    def notifier(
        self, clock: Clock | None = None, client: httpx.AsyncClient | None = None, **config: object
    ) -> DingTalkNotifier:
        values: dict[str, object] = {
            "access_token": "tok-1",
            "secret": SECRET,
            "base_url": self.base_url,
        }
        values.update(config)
        return DingTalkNotifier(
            DingTalkConfig(**values),  # type: ignore[arg-type]
            clock=clock or self.clock,
            client=client,
        )


@pytest.fixture
async def world() -> AsyncIterator[World]:
    clock = ManualClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    robots = [
        FakeRobot("tok-1", secret=SECRET),
        FakeRobot("tok-kw", keywords=("告警", "alert-kw")),
    ]
    fake = DingTalkFake(robots, clock)
    async with running_fake(fake.app) as base_url:
        yield World(fake, base_url, clock)


def test_signature_matches_the_documented_algorithm() -> None:
    # HMAC-SHA256 over "timestamp\nsecret", standard Base64, computed independently here.
    import base64
    import hashlib
    import hmac

    expected = base64.b64encode(
        hmac.new(b"SECabc", b"1700000000000\nSECabc", hashlib.sha256).digest()
    ).decode()
    assert dingtalk_signature("SECabc", "1700000000000") == expected


async def test_signed_markdown_with_mentions_is_delivered(world: World) -> None:
    notifier = world.notifier()
    result = await notifier.send(notification())
    await notifier.aclose()
    assert result.outcome is Outcome.DELIVERED
    [message] = world.fake.inbox.bodies("tok-1")
    assert message["msgtype"] == "markdown"
    assert message["at"]["atMobiles"] == ["13800138000"]
    text = message["markdown"]["text"]
    assert "@13800138000" in text
    assert text.endswith("[Console](http://console.local/alerts/g1)")
    assert "Delivery rate below 90% on aliyun" in message["markdown"]["title"]


async def test_action_card_carries_an_acknowledge_button(world: World) -> None:
    notifier = world.notifier(msgtype="actionCard")
    result = await notifier.send(notification(ack_url="http://console.local/ack/xyz?sig=1"))
    await notifier.aclose()
    assert result.outcome is Outcome.DELIVERED
    [message] = world.fake.inbox.bodies("tok-1")
    assert message["actionCard"]["singleTitle"] == "Acknowledge"
    assert message["actionCard"]["singleURL"] == "http://console.local/ack/xyz?sig=1"


async def test_wrong_secret_fails_with_sign_not_match_and_is_not_resent(world: World) -> None:
    answers = AnswerLog()
    async with answers.client() as client:
        result = await world.notifier(client=client, secret="SECwrong").send(notification())
    assert (result.outcome, result.error_code, result.detail) == (
        Outcome.FAILED,
        "310000",
        "sign not match",
    )
    assert answers.bodies == [{"errcode": 310000, "errmsg": "sign not match"}]
    assert world.fake.inbox.bodies() == []


async def test_timestamp_refused_for_clock_skew_is_resent_once_with_a_fresh_signature(
    world: World,
) -> None:
    # The host clock is an hour and a second behind for the first request, then resynced.
    clock = SkewedFirstReadClock(world.clock, -3601)
    answers = AnswerLog()
    async with answers.client() as client:
        result = await world.notifier(clock, client).send(notification())
    assert answers.bodies == [
        {"errcode": 310000, "errmsg": "invalid timestamp"},
        {"errcode": 0, "errmsg": "ok"},
    ]
    assert result.outcome is Outcome.DELIVERED
    assert len(world.fake.inbox.bodies("tok-1")) == 1


async def test_timestamp_still_refused_after_the_one_resend_fails(world: World) -> None:
    client_clock = ManualClock(world.clock.now())
    client_clock.advance(-3601)
    answers = AnswerLog()
    async with answers.client() as client:
        result = await world.notifier(client_clock, client).send(notification())
    assert (result.outcome, result.error_code, result.detail) == (
        Outcome.FAILED,
        "310000",
        "invalid timestamp",
    )
    assert answers.bodies == [{"errcode": 310000, "errmsg": "invalid timestamp"}] * 2


# errmsg texts DingTalk sent with 310000 (WIRE.md §1); the newer forms as logged in public
# issues: the stale one in 0wQ/air780e-forwarder #51, the sign mismatch in qd-today/qd #510.
STALE_TIMESTAMP_TEXTS = [
    "invalid timestamp",
    "description:机器人发送签名过期;solution:签名生成时间和发送时间请保持在 timestampms 以内;",
]
OTHER_310000_TEXTS = [
    "sign not match",
    "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]",
    "description:机器人发送签名不匹配;solution:请确认签名和生成签名的时间戳必须都放在调用的网址中，"
    "请确认机器人的密钥加密和填写正确;",
    "keywords not in content",
    "ip 203.0.113.7 not in whitelist",
]


@pytest.mark.parametrize(
    ("errmsg", "stale"),
    [(text, True) for text in STALE_TIMESTAMP_TEXTS]
    + [(text, False) for text in OTHER_310000_TEXTS],
)
def test_only_a_stale_timestamp_answer_is_worth_a_resend(errmsg: str, stale: bool) -> None:
    assert is_stale_timestamp(classify(310000, errmsg)) is stale


def test_invalid_timestamp_text_under_another_errcode_is_not_resent() -> None:
    assert not is_stale_timestamp(NotifyResult(Outcome.FAILED, "dingtalk", "invalid timestamp"))


async def test_keyword_is_added_when_the_text_lacks_one(world: World) -> None:
    notifier = world.notifier(access_token="tok-kw", secret=None, keywords=("告警",))
    result = await notifier.send(notification())
    await notifier.aclose()
    assert result.outcome is Outcome.DELIVERED
    [message] = world.fake.inbox.bodies("tok-kw")
    assert message["markdown"]["title"].startswith("【告警】")


async def test_missing_keyword_is_refused_by_the_robot(world: World) -> None:
    # A client configured without the robot's keywords: the fake applies the robot's check.
    notifier = world.notifier(access_token="tok-kw", secret=None)
    result = await notifier.send(notification())
    await notifier.aclose()
    assert (result.outcome, result.error_code, result.detail) == (
        Outcome.FAILED,
        "310000",
        "keywords not in content",
    )


async def test_21st_message_in_a_minute_is_rate_limited_and_the_robot_blocked(world: World) -> None:
    notifier = world.notifier()
    results = []
    for _ in range(21):
        results.append(await notifier.send(notification()))
        world.clock.advance(1)
    assert [r.outcome for r in results[:20]] == [Outcome.DELIVERED] * 20
    assert results[20].outcome is Outcome.RETRY
    assert results[20].error_code == "130101"
    assert results[20].retry_after_s == 60
    # The window has slid, but the robot stays blocked for 10 minutes.
    world.clock.advance(120)
    assert world.fake.blocked("tok-1")
    blocked = await notifier.send(notification())
    world.clock.advance(600)
    after_block = await notifier.send(notification())
    await notifier.aclose()
    assert blocked.outcome is Outcome.RETRY
    assert after_block.outcome is Outcome.DELIVERED
    assert len(world.fake.inbox.bodies("tok-1")) == 21


async def test_unknown_token_fails(world: World) -> None:
    notifier = world.notifier(access_token="nope")
    result = await notifier.send(notification())
    await notifier.aclose()
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "300005")


async def test_fake_serves_its_inbox(world: World) -> None:
    import httpx

    notifier = world.notifier()
    await notifier.send(notification())
    await notifier.aclose()
    async with httpx.AsyncClient() as client:
        inbox = (await client.get(f"{world.base_url}/_fake/inbox")).json()
    [item] = inbox["received"]
    assert item["endpoint"] == "tok-1" and item["body"]["msgtype"] == "markdown"
