"""An escalation call nobody answers is placed again a minute later, a few times at most."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alerting_world import HEADERS, PRIMARY_PHONE, World, fire, started_world

NO_ANSWER, BUSY = "200003", "200002"


async def _call_history(world: World) -> list[dict[str, Any]]:
    """The call results in the history of the (one) alert, as GET /v1/alerts/{fp} serves it."""
    [stored] = (await world.http.get("/v1/alerts", headers=HEADERS)).json()["alerts"]
    detail = await world.http.get(f"/v1/alerts/{stored['fingerprint']}", headers=HEADERS)
    assert detail.status_code == 200, detail.text
    return [e["detail"] for e in detail.json()["history"] if e["kind"] == "call_result"]


async def _first_call(world: World) -> str:
    """Fire the rule and let the chain's 5 m voice step call the primary on call."""
    await fire(world)
    await world.advance(300)
    [call] = world.fakes.voice.calls.values()
    return call.call_id


def _call_ids(world: World) -> list[str]:
    return list(world.fakes.voice.calls)


async def test_an_unanswered_call_is_redialled_a_minute_later_and_a_key_press_on_it_acks(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with started_world(sqlite_url, tmp_path) as world:
        voice = world.fakes.voice
        first = await _first_call(world)
        await voice.hang_up(first, NO_ANSWER)

        await world.advance(59)
        assert _call_ids(world) == [first]  # the callee may be called once a minute
        await world.advance(1)
        [_, redial] = _call_ids(world)
        assert voice.calls[redial].callee == PRIMARY_PHONE
        assert (voice.calls[redial].placed_at - voice.calls[first].placed_at).total_seconds() >= 60

        await voice.press_key(redial, "1")
        await voice.hang_up(redial)
        await world.advance(600)  # acknowledged: neither a redial nor the 10 m step calls
        assert len(voice.calls) == 2

        [unanswered, heard] = await _call_history(world)
        assert unanswered["callee"] == PRIMARY_PHONE
        assert (unanswered["status_code"], unanswered["meaning"]) == (NO_ANSWER, "no answer")
        assert (unanswered["attempt"], unanswered["redial"]) == (1, "scheduled")
        assert (heard["status_code"], heard["meaning"]) == ("200000", "heard to the end")
        assert heard["attempt"] == 2


async def test_a_busy_callee_is_called_three_times_then_the_chain_goes_on(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with started_world(sqlite_url, tmp_path) as world:
        voice = world.fakes.voice
        await voice.hang_up(await _first_call(world), BUSY)
        for _ in range(2):
            await world.advance(60)
            await voice.hang_up(_call_ids(world)[-1], BUSY)

        await world.advance(179)  # up to the chain's 10 m step: no fourth attempt
        assert len(voice.calls) == 3
        results = await _call_history(world)
        assert [(r["attempt"], r["redial"]) for r in results] == [
            (1, "scheduled"),
            (2, "scheduled"),
            (3, "gave_up"),
        ]
        assert {r["meaning"] for r in results} == {"busy"}

        await world.advance(1)  # giving up on redials does not stop the escalation
        assert len(voice.calls) == 4


async def test_a_call_unanswered_after_the_group_was_acked_is_not_redialled(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with started_world(sqlite_url, tmp_path) as world:
        voice = world.fakes.voice
        first = await _first_call(world)
        [stored] = (await world.http.get("/v1/alerts", headers=HEADERS)).json()["alerts"]
        acked = await world.http.post(f"/v1/alerts/{stored['fingerprint']}/ack", headers=HEADERS)
        assert acked.status_code == 200, acked.text

        await voice.hang_up(first, NO_ANSWER)
        await world.advance(120)
        assert _call_ids(world) == [first]
        [result] = await _call_history(world)
        assert (result["status_code"], result["redial"]) == (NO_ANSWER, "not_escalating")


async def test_a_receipt_pushed_twice_is_recorded_and_redialled_once(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with started_world(sqlite_url, tmp_path) as world:
        voice = world.fakes.voice
        first = await _first_call(world)
        await voice.hang_up(first, NO_ANSWER)
        final = voice.receipts_pushed[-1]
        assert voice.callback_url is not None
        again = await world.http.post(voice.callback_url, json=[final])  # Dyvms re-pushes
        assert again.json() == {"code": 0, "msg": "accepted"}

        await world.advance(120)
        assert len(voice.calls) == 2
        assert len(await _call_history(world)) == 1
