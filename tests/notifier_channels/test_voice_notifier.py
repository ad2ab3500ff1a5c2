"""Voice calls against the faithful Dyvms fake: signature, limits, and key-press receipts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from clock_skew import AnswerLog, SkewedFirstReadClock
from notifier_samples import notification

from notifiers.base import Notification, Outcome
from notifiers.voice import CallBinder, VoiceConfig, VoiceNotifier
from smsplatform.clock import Clock, ManualClock
from testbench.fakes.server import running_fake
from testbench.fakes.voice import VoiceFake
from testbench.fakes.webhook import WebhookReceiverFake

KEY_ID, KEY_SECRET, TTS = "LTAI5tVoice", "voice-secret", "TTS_100001"


@dataclass
class World:
    fake: VoiceFake
    receipts: WebhookReceiverFake
    base_url: str
    clock: ManualClock

    def notifier(
        self,
        secret: str = KEY_SECRET,
        clock: Clock | None = None,
        client: httpx.AsyncClient | None = None,
        bind_call: CallBinder | None = None,
    ) -> VoiceNotifier:
        config = VoiceConfig(KEY_ID, secret, TTS, base_url=self.base_url)
        return VoiceNotifier(config, clock=clock or self.clock, client=client, bind_call=bind_call)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    clock = ManualClock(datetime(2026, 3, 1, 1, 0, tzinfo=UTC))
    receipts = WebhookReceiverFake(clock)
    async with running_fake(receipts.app) as receipts_url:
        fake = VoiceFake(
            {KEY_ID: KEY_SECRET},
            frozenset({TTS}),
            callback_url=f"{receipts_url}/voice/receipts",
            clock=clock,
        )
        async with running_fake(fake.app) as base_url:
            yield World(fake, receipts, base_url, clock)


async def test_signed_call_per_recipient_with_call_ids_as_reference(world: World) -> None:
    notifier = world.notifier()
    group = notification(recipients=("13800138000", "13900139000"))
    result = await notifier.send(group)
    await notifier.aclose()
    assert result.outcome is Outcome.DELIVERED
    call_ids = (result.reference or "").split(",")
    assert [world.fake.calls[c].callee for c in call_ids] == ["13800138000", "13900139000"]
    call = world.fake.calls[call_ids[0]]
    assert "Delivery rate below 90% on aliyun" in call.tts_param["summary"]


async def test_each_call_gets_a_random_out_id_bound_before_it_is_placed(world: World) -> None:
    bound: list[tuple[str, int, int | None]] = []  # out id, calls placed by then, episode

    async def bind(out_id: str, notification: Notification) -> None:
        bound.append((out_id, len(world.fake.calls), notification.episode_id))

    notifier = world.notifier(bind_call=bind)
    paged = replace(notification(recipients=("13800138000", "13900139000")), episode_id=7)
    results = [await notifier.send(paged)]
    world.clock.advance(60)  # the same group paged again, once the callees may be called
    results.append(await notifier.send(paged))
    await notifier.aclose()
    call_ids = [c for result in results for c in (result.reference or "").split(",")]
    out_ids = [world.fake.calls[c].out_id for c in call_ids]
    assert [out_id for out_id, _, _ in bound] == out_ids
    assert [placed for _, placed, _ in bound] == [0, 1, 2, 3]  # each before its call existed
    assert {episode for _, _, episode in bound} == {7}
    assert len(set(out_ids)) == 4  # random per call, never derived from the group
    assert all(len(out_id) == 15 and int(out_id, 16) >= 0 for out_id in out_ids)


async def test_long_speech_is_cut_below_250_characters(world: World) -> None:
    notifier = world.notifier()
    result = await notifier.send(notification(common_annotations={"summary": "供应商" * 200}))
    await notifier.aclose()
    assert result.outcome is Outcome.DELIVERED
    [call] = world.fake.calls.values()
    assert len(call.tts_param["summary"]) == 249


def codes(answers: AnswerLog) -> list[str]:
    return [body["Code"] for body in answers.bodies]


async def test_wrong_secret_fails_with_signature_does_not_match_and_is_not_resent(
    world: World,
) -> None:
    answers = AnswerLog()
    async with answers.client() as client:
        result = await world.notifier(secret="wrong", client=client).send(notification())
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "SignatureDoesNotMatch")
    assert codes(answers) == ["SignatureDoesNotMatch"]
    assert world.fake.calls == {}


async def test_timestamp_refused_for_clock_skew_is_resent_once_with_a_fresh_signature(
    world: World,
) -> None:
    # The host clock is 16 minutes ahead for the first request, then resynced.
    clock = SkewedFirstReadClock(world.clock, 16 * 60)
    answers = AnswerLog()
    async with answers.client() as client:
        result = await world.notifier(clock=clock, client=client).send(notification())
    assert codes(answers) == ["InvalidTimeStamp.Expired", "OK"]
    assert result.outcome is Outcome.DELIVERED
    [call] = world.fake.calls.values()
    assert result.reference == call.call_id


async def test_clock_skew_over_15_minutes_is_final_after_one_resend(world: World) -> None:
    skewed = ManualClock(world.clock.now())
    skewed.advance(16 * 60)
    answers = AnswerLog()
    async with answers.client() as client:
        result = await world.notifier(clock=skewed, client=client).send(notification())
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "InvalidTimeStamp.Expired")
    assert codes(answers) == ["InvalidTimeStamp.Expired"] * 2
    assert world.fake.calls == {}


async def test_second_call_to_a_callee_within_a_minute_hits_the_business_limit(
    world: World,
) -> None:
    notifier = world.notifier()
    first = await notifier.send(notification())
    second = await notifier.send(notification())
    world.clock.advance(61)
    third = await notifier.send(notification())
    await notifier.aclose()
    assert first.outcome is Outcome.DELIVERED
    assert (second.outcome, second.error_code) == (Outcome.FAILED, "isv.BUSINESS_LIMIT_CONTROL")
    assert third.outcome is Outcome.DELIVERED


async def test_system_error_is_retriable(world: World) -> None:
    world.fake.fail_next.append("isp.SYSTEM_ERROR")
    notifier = world.notifier()
    result = await notifier.send(notification())
    await notifier.aclose()
    assert (result.outcome, result.error_code) == (Outcome.RETRY, "isp.SYSTEM_ERROR")


async def test_key_press_receipt_arrives_at_the_callback_receiver(world: World) -> None:
    notifier = world.notifier()
    group = notification()
    result = await notifier.send(group)
    await notifier.aclose()
    call_id = result.reference or ""
    world.clock.advance(15)
    await world.fake.press_key(call_id, "1")
    await world.fake.hang_up(call_id)
    pushes = [orjson.loads(raw) for raw in world.receipts.raw]
    assert all(isinstance(p, list) and len(p) == 1 for p in pushes)
    records = [p[0] for p in pushes]
    assert [r["status_code"] for r in records] == [
        "200101",
        "200201",
        "200102",
        "300000",
        "200100",
        "200000",
    ]
    key_press = records[3]
    assert (key_press["call_id"], key_press["dtmf"], key_press["out_id"]) == (
        call_id,
        "1",
        world.fake.calls[call_id].out_id,
    )
    assert key_press["status_time"] == "2026-03-01 09:00:15"  # UTC+8
    assert records[-1]["callee"] == "13800138000"
