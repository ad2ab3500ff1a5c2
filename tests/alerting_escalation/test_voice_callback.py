"""The voice receipt push: only with this deployment's callback token, its body capped; a key
press acknowledges the episode its call was placed for, and no later firing of the group."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from ack_world import CALLBACK_TOKEN, FINGERPRINT, GROUP, World, ack_world

from controlplane.alerting.escalation.voice_callback import MAX_BODY_BYTES

CALL_ID = "116012354148^100000000001"
OUT_ID = "3f9a1c0d7e2b4a6"


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[World]:
    async with ack_world(sqlite_url) as world:
        yield world


def push(status_code: str, dtmf: str | None = None, out_id: str = OUT_ID) -> list[dict[str, str]]:
    record = {
        "call_id": CALL_ID,
        "status_code": status_code,
        "status_time": "2026-03-02 09:10:05",
        "out_id": out_id,
    }
    if dtmf is not None:
        record["dtmf"] = dtmf
    return [record]


def callback(world: World, token: str | None = CALLBACK_TOKEN) -> str:
    query = "" if token is None else f"?token={token}"
    return f"{world.url}/v1/callbacks/voice{query}"


async def test_pressing_1_during_the_call_acks_the_episode_it_pages(world: World) -> None:
    world.clock.advance(600)
    assert [d.step.receivers for d in world.tracker.due()] == [("voice-primary",)]
    # The call's OutId was bound to the episode before it was placed.
    world.acks.remember_call(OUT_ID, GROUP, world.episode_id)
    async with httpx.AsyncClient() as client:
        for record in (push("200101"), push("200102"), push("300000", dtmf="2")):
            answer = await client.post(callback(world), json=record)
            assert answer.json() == {"code": 0, "msg": "accepted"}
        assert world.alerts.history(FINGERPRINT) == []  # other keys do not acknowledge
        pressed = await client.post(callback(world), json=push("300000", "1"))
        garbage = await client.post(callback(world), content=b"{not json")
    assert pressed.status_code == 200
    assert garbage.status_code == 400 and garbage.json()["code"] == 1
    assert world.pending() == []
    [event] = world.alerts.history(FINGERPRINT)
    assert (event.detail["via"], event.detail["group_key"]) == ("voice", GROUP)


async def test_the_token_may_come_in_a_header_instead(world: World) -> None:
    world.acks.remember_call(OUT_ID, GROUP, world.episode_id)
    async with httpx.AsyncClient() as client:
        pressed = await client.post(
            callback(world, token=None),
            json=push("300000", "1"),
            headers={"X-Callback-Token": CALLBACK_TOKEN},
        )
    assert pressed.json() == {"code": 0, "msg": "accepted"}
    assert world.pending() == []


async def test_a_push_without_the_callback_token_is_refused_and_changes_nothing(
    world: World,
) -> None:
    world.acks.remember_call(OUT_ID, GROUP, world.episode_id)
    key_press = push("300000", "1")
    async with httpx.AsyncClient() as client:
        anonymous = await client.post(callback(world, token=None), json=key_press)
        guessed = await client.post(callback(world, token="guessed-token-0000000"), json=key_press)
        wrong_header = await client.post(
            callback(world, token=None), json=key_press, headers={"X-Callback-Token": "nope"}
        )
    for refused in (anonymous, guessed, wrong_header):
        assert refused.status_code == 401
        assert refused.json()["field"] == "token"
    assert world.alerts.history(FINGERPRINT) == []
    assert world.pending() == ["voice-primary", "voice-secondary"]


async def test_a_push_larger_than_the_cap_is_refused_unread(world: World) -> None:
    world.acks.remember_call(OUT_ID, GROUP, world.episode_id)
    padding = "x" * MAX_BODY_BYTES
    oversized = orjson.dumps([push("300000", "1")[0] | {"extend": padding}])
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            callback(world), content=oversized, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 413
    assert world.pending() == ["voice-primary", "voice-secondary"]


async def test_a_key_press_for_an_unknown_call_is_accepted_and_acks_nothing(world: World) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(callback(world), json=push("300000", "1"))
    assert answer.json() == {"code": 0, "msg": "accepted"}
    assert world.pending() == ["voice-primary", "voice-secondary"]


async def test_a_key_press_on_a_call_of_an_earlier_firing_acks_nothing(world: World) -> None:
    world.acks.remember_call(OUT_ID, GROUP, world.episode_id)
    world.fire_again()
    async with httpx.AsyncClient() as client:
        answer = await client.post(callback(world), json=push("300000", "1"))  # pressed late
    assert answer.json() == {"code": 0, "msg": "accepted"}
    assert world.alerts.history(FINGERPRINT) == []
    assert world.pending() == ["voice-primary", "voice-secondary"]
