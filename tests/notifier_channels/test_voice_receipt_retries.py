"""The voice fake re-pushes a receipt the receiver did not take, on WIRE.md's 1/5/10-minute
schedule, and counts a push as taken only on HTTP 200 with a numeric `code` of 0."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi import FastAPI, Request
from notifier_samples import notification
from starlette.responses import Response

from notifiers.voice import VoiceConfig, VoiceNotifier
from smsplatform.clock import ManualClock
from testbench.fakes.server import running_fake
from testbench.fakes.voice import RECEIPT_RETRY_S, PushAttempt, VoiceFake

KEY_ID, KEY_SECRET, TTS = "LTAI5tVoice", "voice-secret", "TTS_100001"
KEY_PRESS = "300000"
Answer = tuple[int, bytes]
TAKEN: Answer = (200, b'{"code":0,"msg":"accepted"}')
SERVER_ERROR: Answer = (500, b'{"code":0,"msg":"accepted"}')  # a code 0 does not save a 500
# Any number: the service checks only that `code` is one, not its value.
NONZERO_CODE: Answer = (200, b'{"code":1,"msg":"busy"}')
CODE_AS_TEXT: Answer = (200, b'{"code":"0","msg":"accepted"}')


@dataclass
class ScriptedReceiver:
    """A receipt endpoint that gives the scripted `answers` in turn, then always `then`."""

    answers: list[Answer] = field(default_factory=list)
    then: Answer = TAKEN
    records: list[dict[str, Any]] = field(default_factory=list)
    app: FastAPI = field(default_factory=FastAPI)

    def __post_init__(self) -> None:
        self.app.post("/voice/receipts")(self._receive)

    async def _receive(self, request: Request) -> Response:
        self.records.extend(orjson.loads(await request.body()))
        status, body = self.answers.pop(0) if self.answers else self.then
        return Response(body, status, media_type="application/json")

    def key_presses(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status_code"] == KEY_PRESS]


class ClockSleep:
    """Moves the ManualClock instead of waiting: the 16-minute schedule runs in no time.

    Enough for these tests, where one receipt at a time is being re-pushed.
    """

    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock

    async def __call__(self, seconds: float) -> None:
        self._clock.advance(seconds)
        await asyncio.sleep(0)


@dataclass
class AnsweredCall:
    fake: VoiceFake
    receiver: ScriptedReceiver
    clock: ManualClock
    call_id: str

    def key_press_attempts(self) -> list[PushAttempt]:
        return [a for a in self.fake.push_attempts if a.status_code == KEY_PRESS]

    def seconds_since(self, start: datetime) -> list[float]:
        return [(a.at - start).total_seconds() for a in self.key_press_attempts()]


@asynccontextmanager
async def answered_call(
    receiver: ScriptedReceiver, callback_url: str | None = None, *, fast_retries: bool = True
) -> AsyncIterator[AnsweredCall]:
    """A call placed through the signed API and answered, its first receipts all taken."""
    clock = ManualClock(datetime(2026, 3, 1, 1, 0, tzinfo=UTC))
    async with running_fake(receiver.app) as receiver_url:
        fake = VoiceFake(
            {KEY_ID: KEY_SECRET},
            frozenset({TTS}),
            callback_url=f"{receiver_url}/voice/receipts",
            clock=clock,
            sleep=ClockSleep(clock) if fast_retries else asyncio.sleep,
        )
        async with running_fake(fake.app) as base_url:
            notifier = VoiceNotifier(
                VoiceConfig(KEY_ID, KEY_SECRET, TTS, base_url=base_url), clock=clock
            )
            placed = await notifier.send(notification())
            await notifier.aclose()
            call_id = placed.reference or ""
            await fake.answer(call_id)
            fake.callback_url = callback_url or fake.callback_url
            try:
                yield AnsweredCall(fake, receiver, clock, call_id)
            finally:
                await fake.aclose()


async def test_receipts_the_receiver_takes_are_pushed_once() -> None:
    async with answered_call(ScriptedReceiver()) as world:
        await world.fake.settle()
        attempts = [
            (a.status_code, a.attempt, a.http_status, a.taken) for a in world.fake.push_attempts
        ]
    assert attempts == [
        ("200101", 1, 200, True),
        ("200201", 1, 200, True),
        ("200102", 1, 200, True),
    ]


async def test_any_numeric_code_takes_the_push() -> None:
    receiver = ScriptedReceiver()
    async with answered_call(receiver) as world:
        receiver.answers.append(NONZERO_CODE)
        await world.fake.press_key(world.call_id, "1")
        await world.fake.settle()
        attempts = [(a.attempt, a.http_status, a.taken) for a in world.key_press_attempts()]
    assert attempts == [(1, 200, True)]


@pytest.mark.parametrize(
    ("refusal", "why"),
    [(SERVER_ERROR, "status 500"), (CODE_AS_TEXT, "no numeric code")],
    ids=["http-500", "http-200-code-not-a-number"],
)
async def test_receipt_refused_once_is_pushed_again_a_minute_later_and_no_more(
    refusal: Answer, why: str
) -> None:
    receiver = ScriptedReceiver()
    async with answered_call(receiver) as world:
        receiver.answers.append(refusal)
        pressed_at = world.clock.now()
        await world.fake.press_key(world.call_id, "1")
        await world.fake.settle()
        world.clock.advance(3600)
        await world.fake.settle()
        attempts = [(a.attempt, a.http_status, a.taken, a.why) for a in world.key_press_attempts()]
        assert attempts == [(1, refusal[0], False, why), (2, 200, True, "")]
        assert world.seconds_since(pressed_at) == [0.0, 60.0]
        first, again = receiver.key_presses()
        assert first == again and first["dtmf"] == "1" and first["call_id"] == world.call_id


async def test_receipt_never_taken_is_pushed_on_the_whole_schedule_then_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = ScriptedReceiver()
    async with answered_call(receiver) as world:
        receiver.then = SERVER_ERROR
        pressed_at = world.clock.now()
        with caplog.at_level(logging.WARNING, logger="testbench.fakes.voice"):
            await world.fake.press_key(world.call_id, "1")
            await world.fake.settle()
        world.clock.advance(3600)
        await world.fake.settle()
        assert [a.attempt for a in world.key_press_attempts()] == [1, 2, 3, 4]
        assert len(world.key_press_attempts()) == 1 + len(RECEIPT_RETRY_S)
        assert not any(a.taken for a in world.key_press_attempts())
        assert world.seconds_since(pressed_at) == [0.0, 60.0, 360.0, 960.0]
        assert len(receiver.key_presses()) == 4
    assert f"receipt dropped call_id={world.call_id} status_code=300000 attempts=4" in caplog.text


async def test_unreachable_receiver_is_retried_like_a_refusing_one() -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}/voice/receipts"
    async with answered_call(ScriptedReceiver(), callback_url=dead_url) as world:
        await world.fake.press_key(world.call_id, "1")
        await world.fake.settle()
        attempts = [(a.http_status, a.taken, a.why) for a in world.key_press_attempts()]
    assert attempts == [(None, False, "ConnectError")] * 4


async def test_closing_the_fake_drops_the_receipts_waiting_for_a_re_push() -> None:
    receiver = ScriptedReceiver()
    # The real asyncio.sleep: the first re-push would come a real minute later.
    async with answered_call(receiver, fast_retries=False) as world:
        receiver.then = SERVER_ERROR
        await world.fake.press_key(world.call_id, "1")
        async with asyncio.timeout(1.0):
            await world.fake.aclose()
        await world.fake.settle()  # nothing is left to wait for
        assert [a.attempt for a in world.key_press_attempts()] == [1]
