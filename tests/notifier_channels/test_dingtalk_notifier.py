"""The DingTalk robot client against the faithful fake: signing, keywords, rate limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from notifier_samples import notification

from controlplane.clock import ManualClock
from notifiers.base import Outcome
from notifiers.dingtalk import DingTalkConfig, DingTalkNotifier, dingtalk_signature
from notifiers.fakes.dingtalk import DingTalkFake, FakeRobot
from notifiers.fakes.server import running_fake

SECRET = "SECb1f0c5ad5e2b4b7e9f9c3d2a1e0f+/=="


@dataclass
class World:
    fake: DingTalkFake
    base_url: str
    clock: ManualClock

    def notifier(self, **config: object) -> DingTalkNotifier:
        values: dict[str, object] = {
            "access_token": "tok-1",
            "secret": SECRET,
            "base_url": self.base_url,
        }
        values.update(config)
        return DingTalkNotifier(DingTalkConfig(**values), clock=self.clock)  # type: ignore[arg-type]


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


async def test_wrong_secret_fails_with_sign_not_match(world: World) -> None:
    notifier = world.notifier(secret="SECwrong")
    result = await notifier.send(notification())
    await notifier.aclose()
    assert (result.outcome, result.error_code, result.detail) == (
        Outcome.FAILED,
        "310000",
        "sign not match",
    )
    assert world.fake.inbox.bodies() == []


async def test_timestamp_older_than_an_hour_is_refused(world: World) -> None:
    client_clock = ManualClock(world.clock.now())
    client_clock.advance(-3601)
    notifier = DingTalkNotifier(
        DingTalkConfig("tok-1", SECRET, base_url=world.base_url), clock=client_clock
    )
    result = await notifier.send(notification())
    await notifier.aclose()
    assert (result.outcome, result.error_code, result.detail) == (
        Outcome.FAILED,
        "310000",
        "invalid timestamp",
    )


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
