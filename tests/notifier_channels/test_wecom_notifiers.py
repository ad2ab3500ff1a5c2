"""WeCom group robot and application API clients against their faithful fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from notifier_samples import alert, notification

from notifiers.base import Outcome
from notifiers.wecom import WeComRobotConfig, WeComRobotNotifier
from notifiers.wecom_app import WeComAppConfig, WeComAppNotifier
from smsplatform.clock import ManualClock
from testbench.fakes.server import running_fake
from testbench.fakes.wecom import WeComRobotFake
from testbench.fakes.wecom_app import FakeApp, WeComAppFake

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
async def robot(clock: ManualClock) -> AsyncIterator[tuple[WeComRobotFake, str]]:
    fake = WeComRobotFake([KEY], clock)
    async with running_fake(fake.app) as base_url:
        yield fake, base_url


def many_alerts(count: int) -> list[object]:
    return [alert(supplier=f"supplier-{i}", region="华东") for i in range(count)]


async def test_robot_text_mentions_mobiles(robot: tuple[WeComRobotFake, str]) -> None:
    fake, base_url = robot
    notifier = WeComRobotNotifier(WeComRobotConfig(KEY, msgtype="text", base_url=base_url))
    result = await notifier.send(notification(recipients=("13800138000", "13900139000")))
    await notifier.aclose()
    assert result.outcome is Outcome.DELIVERED
    [message] = fake.inbox.bodies(KEY)
    assert message["text"]["mentioned_mobile_list"] == ["13800138000", "13900139000"]
    assert message["text"]["content"].endswith("Console: http://console.local/alerts/g1")


async def test_robot_long_markdown_is_cut_to_4096_bytes_with_the_link(
    robot: tuple[WeComRobotFake, str],
) -> None:
    fake, base_url = robot
    notifier = WeComRobotNotifier(WeComRobotConfig(KEY, base_url=base_url))
    # No mentions: a message that mentions mobiles goes out as text (markdown cannot carry them).
    result = await notifier.send(notification(alerts=many_alerts(200), recipients=()))
    await notifier.aclose()
    assert result.outcome is Outcome.DELIVERED
    content = fake.inbox.bodies(KEY)[0]["markdown"]["content"]
    assert 4000 < len(content.encode()) <= 4096
    assert content.endswith("…\n\n[Console](http://console.local/alerts/g1)")


async def test_robot_refuses_an_oversized_text_with_40058(
    robot: tuple[WeComRobotFake, str],
) -> None:
    _, base_url = robot
    import httpx

    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{base_url}/cgi-bin/webhook/send?key={KEY}",
            json={"msgtype": "text", "text": {"content": "告" * 683}},  # 2049 bytes
        )
    body = answer.json()
    assert body["errcode"] == 40058
    assert body["errmsg"].startswith("text.content exceed max length 2048")


async def test_robot_wrong_key_fails_with_93000(robot: tuple[WeComRobotFake, str]) -> None:
    _, base_url = robot
    notifier = WeComRobotNotifier(WeComRobotConfig("wrong", base_url=base_url))
    result = await notifier.send(notification())
    await notifier.aclose()
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "93000")


async def test_robot_21st_message_in_a_minute_is_retried_after_60s(
    robot: tuple[WeComRobotFake, str], clock: ManualClock
) -> None:
    fake, base_url = robot
    notifier = WeComRobotNotifier(WeComRobotConfig(KEY, base_url=base_url))
    outcomes = []
    for _ in range(21):
        outcomes.append(await notifier.send(notification()))
        clock.advance(2)
    assert [r.outcome for r in outcomes[:20]] == [Outcome.DELIVERED] * 20
    assert (outcomes[20].outcome, outcomes[20].error_code) == (Outcome.RETRY, "45009")
    assert outcomes[20].retry_after_s == 60
    clock.advance(20)  # the first send left the window: no block beyond it
    assert (await notifier.send(notification())).outcome is Outcome.DELIVERED
    await notifier.aclose()
    assert len(fake.inbox.bodies(KEY)) == 21


@pytest.fixture
async def app_api(clock: ManualClock) -> AsyncIterator[tuple[WeComAppFake, str]]:
    fake = WeComAppFake([FakeApp("ww1", "app-secret", 1000002)], clock)
    async with running_fake(fake.app) as base_url:
        yield fake, base_url


def app_notifier(base_url: str, clock: ManualClock, **config: object) -> WeComAppNotifier:
    values: dict[str, object] = {
        "corp_id": "ww1",
        "corp_secret": "app-secret",
        "agent_id": 1000002,
        "to_user": ("zhangsan", "lisi"),
        "base_url": base_url,
    }
    values.update(config)
    return WeComAppNotifier(WeComAppConfig(**values), clock=clock)  # type: ignore[arg-type]


async def test_app_caches_the_token_until_it_nears_expiry(
    app_api: tuple[WeComAppFake, str], clock: ManualClock
) -> None:
    fake, base_url = app_api
    notifier = app_notifier(base_url, clock)
    for _ in range(3):
        assert (await notifier.send(notification())).outcome is Outcome.DELIVERED
    clock.advance(7200 - 299)  # inside the refresh margin: fetch a new one
    assert (await notifier.send(notification())).outcome is Outcome.DELIVERED
    await notifier.aclose()
    assert notifier.token_fetches == 2
    assert [r.endpoint for r in fake.inbox.received[:2]] == ["zhangsan", "lisi"]


async def test_app_refetches_the_token_on_40014_and_replays_once(
    app_api: tuple[WeComAppFake, str], clock: ManualClock
) -> None:
    fake, base_url = app_api
    notifier = app_notifier(base_url, clock)
    assert (await notifier.send(notification())).outcome is Outcome.DELIVERED
    fake.invalidate_tokens()
    result = await notifier.send(notification())
    await notifier.aclose()
    assert result.outcome is Outcome.DELIVERED
    assert (notifier.token_fetches, fake.tokens_issued) == (2, 2)
    assert len(fake.inbox.bodies("zhangsan")) == 2


async def test_app_refetches_an_expired_token(
    app_api: tuple[WeComAppFake, str], clock: ManualClock
) -> None:
    fake, base_url = app_api
    notifier = app_notifier(base_url, clock)
    assert (await notifier.send(notification())).outcome is Outcome.DELIVERED
    fake.expire_tokens()  # WeCom expired it although our cache thinks it is fresh
    assert (await notifier.send(notification())).outcome is Outcome.DELIVERED
    await notifier.aclose()
    assert notifier.token_fetches == 2


async def test_app_wrong_secret_fails_with_40001(
    app_api: tuple[WeComAppFake, str], clock: ManualClock
) -> None:
    _, base_url = app_api
    notifier = app_notifier(base_url, clock, corp_secret="bad")
    result = await notifier.send(notification())
    await notifier.aclose()
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "40001")


async def test_app_text_is_cut_to_2048_bytes(
    app_api: tuple[WeComAppFake, str], clock: ManualClock
) -> None:
    fake, base_url = app_api
    notifier = app_notifier(base_url, clock)
    result = await notifier.send(notification(alerts=many_alerts(100)))
    await notifier.aclose()
    assert result.outcome is Outcome.DELIVERED
    content = fake.inbox.bodies("zhangsan")[0]["text"]["content"]
    assert 1900 < len(content.encode()) <= 2048
    assert content.endswith("Console: http://console.local/alerts/g1")


async def test_app_31st_message_per_member_minute_is_dropped_silently(
    app_api: tuple[WeComAppFake, str], clock: ManualClock
) -> None:
    fake, base_url = app_api
    notifier = app_notifier(base_url, clock, to_user=("zhangsan",))
    results = [await notifier.send(notification()) for _ in range(31)]
    await notifier.aclose()
    assert all(r.outcome is Outcome.DELIVERED for r in results)
    notes = [r.note for r in fake.inbox.received]
    assert notes.count("dropped") == 1 and notes[-1] == "dropped"
