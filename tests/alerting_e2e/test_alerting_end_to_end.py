"""Alerts from a stream rule reach the channel fakes: grouped, acked, escalated, failed over."""

from __future__ import annotations

import re
from pathlib import Path

from alerting_world import HEADERS, PRIMARY_PHONE, T0, channel_fakes, control_plane, fire

from smsplatform.clock import ManualClock

ACK_LINK = re.compile(r"\((http://127\.0\.0\.1:\d+/v1/ack\?[^)]+)\)")


async def test_a_firing_rule_reaches_dingtalk_after_group_wait_with_an_ack_link_then_resolves(
    tmp_path: Path, sqlite_url: str
) -> None:
    clock = ManualClock(T0)
    async with (
        channel_fakes(clock) as fakes,
        control_plane(sqlite_url, tmp_path, clock, fakes) as world,
    ):
        await fire(world)
        assert await world.advance(29) == 0
        assert world.dingtalk_texts() == []
        await world.advance(1)
        [text] = world.dingtalk_texts()
        assert "aliyun to cmcc: delivery 50.00%" in text
        [link] = ACK_LINK.findall(text)

        clock.advance(60)  # the receipts leave the 60 s window: the rule resolves
        await world.feed(delivered_share=1.0)
        await world.evaluate()
        await world.advance(60)
        texts = world.dingtalk_texts()
        assert len(texts) == 2 and "resolved" in texts[1].lower()
        assert fakes.wecom.inbox.received == []

        answer = await world.http.get(link.replace(str(world.http.base_url), ""))
        assert answer.status_code == 200  # the link still verifies; the group has resolved


async def test_a_blocked_robot_hands_the_alert_to_wecom(tmp_path: Path, sqlite_url: str) -> None:
    clock = ManualClock(T0)
    async with (
        channel_fakes(clock) as fakes,
        control_plane(sqlite_url, tmp_path, clock, fakes) as world,
    ):
        # Another sender overran the robot: DingTalk answers 130101 for the next ten minutes.
        fakes.dingtalk.robots["ops-robot"].blocked_until = clock.monotonic() + 600
        await fire(world)
        await world.advance(30)
        assert world.dingtalk_texts() == []
        [message] = fakes.wecom.inbox.bodies()
        assert "aliyun to cmcc: delivery 50.00%" in message["markdown"]["content"]


async def test_an_unacked_alert_escalates_to_a_voice_call_and_a_key_press_stops_it(
    tmp_path: Path, sqlite_url: str
) -> None:
    clock = ManualClock(T0)
    async with (
        channel_fakes(clock) as fakes,
        control_plane(sqlite_url, tmp_path, clock, fakes) as world,
    ):
        await fire(world)
        await world.advance(299)
        assert fakes.voice.calls == {}
        await world.advance(1)  # five minutes after the alert started firing
        [call] = fakes.voice.calls.values()
        assert call.callee == PRIMARY_PHONE  # oncall:primary@sms-team, resolved at send time

        await fakes.voice.press_key(call.call_id, "1")
        await world.advance(600)  # the 10 m step is never sent: the group is acknowledged
        assert len(fakes.voice.calls) == 1
        assert len(world.dingtalk_texts()) == 1
        [stored] = (await world.http.get("/v1/alerts", headers=HEADERS)).json()["alerts"]
        detail = await world.http.get(f"/v1/alerts/{stored['fingerprint']}", headers=HEADERS)
        kinds = [event.get("kind", event.get("to")) for event in detail.json()["history"]]
        assert "ack" in kinds, kinds


async def test_a_restart_mid_escalation_sends_nothing_twice(
    tmp_path: Path, sqlite_url: str
) -> None:
    clock = ManualClock(T0)
    async with channel_fakes(clock) as fakes:
        async with control_plane(sqlite_url, tmp_path, clock, fakes) as world:
            await fire(world)
            await world.advance(300)
            assert len(world.dingtalk_texts()) == 1 and len(fakes.voice.calls) == 1
        async with control_plane(sqlite_url, tmp_path, clock, fakes) as world:
            await world.advance(120)  # group_wait passes again on the restored alert
            assert len(world.dingtalk_texts()) == 1
            assert len(fakes.voice.calls) == 1
            await world.advance(480)  # the 10 m step is due once, on the new process
            assert len(fakes.voice.calls) == 2
