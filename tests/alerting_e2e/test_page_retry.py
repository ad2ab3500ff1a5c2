"""A voice page that reaches nobody (the voice API refuses the call) is paged again a minute
later, then after two, until it goes through or someone acknowledges; a restart between the
failure and the retry sends the retry once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alerting_world import (
    HEADERS,
    PRIMARY_PHONE,
    T0,
    World,
    channel_fakes,
    control_plane,
    fire,
    started_world,
)

from smsplatform.clock import ManualClock

# A final business error (the account is out of service): the call fails at once, no backoff.
OUT_OF_SERVICE = "isv.OUT_OF_SERVICE"


async def _fingerprint(world: World) -> str:
    [stored] = (await world.http.get("/v1/alerts", headers=HEADERS)).json()["alerts"]
    fingerprint: str = stored["fingerprint"]
    return fingerprint


async def _pages(world: World) -> list[dict[str, Any]]:
    """The alert's history lines for the notifications to the phone, as the API serves them."""
    fingerprint = await _fingerprint(world)
    detail = await world.http.get(f"/v1/alerts/{fingerprint}", headers=HEADERS)
    assert detail.status_code == 200, detail.text
    return [
        e["detail"]
        for e in detail.json()["history"]
        if e["kind"] == "notification" and e["detail"]["receiver"] == "phone-primary"
    ]


async def test_a_failed_voice_page_is_paged_again_with_growing_waits_until_the_api_recovers(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with started_world(sqlite_url, tmp_path) as world:
        voice = world.fakes.voice
        voice.fail_next = [OUT_OF_SERVICE, OUT_OF_SERVICE]
        await fire(world)
        await world.advance(300)  # the 5 m step: refused
        await world.advance(59)
        assert voice.calls == {}
        await world.advance(1)  # a minute later: refused again
        assert voice.calls == {} and voice.fail_next == []
        await world.advance(119)  # the next wait is two minutes
        assert voice.calls == {}
        await world.advance(1)
        [call] = voice.calls.values()
        assert call.callee == PRIMARY_PHONE
        assert call.placed_at == T0.replace(minute=8)  # 5 m step + 1 m + 2 m

        pages = await _pages(world)
        assert [(p["outcome"], p.get("retry")) for p in pages] == [
            ("failed", None),
            ("failed", 1),
            ("sent", 2),
        ]
        assert pages[-1]["channel"] == "voice"


async def test_a_failed_page_is_not_paged_again_once_the_alert_is_acknowledged(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with started_world(sqlite_url, tmp_path) as world:
        world.fakes.voice.fail_next = [OUT_OF_SERVICE]
        await fire(world)
        await world.advance(300)  # the 5 m step: refused
        fingerprint = await _fingerprint(world)
        acked = await world.http.post(f"/v1/alerts/{fingerprint}/ack", headers=HEADERS)
        assert acked.status_code == 200, acked.text

        await world.advance(900)  # past every retry and the 10 m step
        assert world.fakes.voice.calls == {}
        assert [p["outcome"] for p in await _pages(world)] == ["failed"]


async def test_a_restart_between_the_failure_and_its_retry_places_the_retry_once(
    tmp_path: Path, sqlite_url: str
) -> None:
    clock = ManualClock(T0)
    async with channel_fakes(clock) as fakes:
        fakes.voice.fail_next = [OUT_OF_SERVICE]
        async with control_plane(sqlite_url, tmp_path, clock, fakes) as world:
            await fire(world)
            await world.advance(300)  # the 5 m step: refused
            assert fakes.voice.calls == {}
        async with control_plane(sqlite_url, tmp_path, clock, fakes) as world:
            await world.advance(60)  # the restarted process finds the failed page in the log
            [call] = fakes.voice.calls.values()
            assert call.placed_at == T0.replace(minute=6)
        async with control_plane(sqlite_url, tmp_path, clock, fakes) as world:
            await world.advance(180)  # up to 9 m: the retry went out; nothing repeats it
            assert len(fakes.voice.calls) == 1
            pages = await _pages(world)
            assert [(p["outcome"], p.get("retry")) for p in pages] == [
                ("failed", None),
                ("sent", 1),
            ]
