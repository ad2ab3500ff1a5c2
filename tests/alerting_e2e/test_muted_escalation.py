"""A muted group does not page: a mute time interval holds its steps, a silence stops them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alerting_world import ALERTING, HEADERS, T0, fire, started_world

# The same receivers, with the escalating route muted from 08:05 to 08:20 UTC (T0 is 08:00).
MUTED_ALERTING = ALERTING.replace(
    "  escalation: page\n",
    "  routes:\n"
    "    - matchers: [severity=critical]\n"
    "      escalation: page\n"
    "      mute_time_intervals: [handover]\n",
).replace(
    "escalations:\n",
    "time_intervals:\n"
    "  - name: handover\n"
    "    time_intervals:\n"
    "      - times: [{{start_time: '08:05', end_time: '08:20'}}]\n"
    "escalations:\n",
)


async def test_a_silence_covering_the_group_stops_its_escalation(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with started_world(sqlite_url, tmp_path) as world:
        clock, fakes = world.clock, world.fakes
        await fire(world)
        await world.advance(30)
        assert len(world.dingtalk_texts()) == 1  # notified: the escalation episode has begun
        silence = {
            "matchers": [{"name": "alertname", "value": "SupplierDeliveryRateLow"}],
            "ends_at": (clock.now() + timedelta(hours=2)).isoformat(),
            "created_by": "zhang",
            "comment": "supplier knows, fixing",
        }
        answer = await world.http.post("/v1/silences", json=silence, headers=HEADERS)
        assert answer.status_code in (200, 201), answer.text
        await world.advance(900)  # past both voice steps (5 m and 10 m)
        assert fakes.voice.calls == {}
        [stored] = (await world.http.get("/v1/alerts", headers=HEADERS)).json()["alerts"]
        detail = await world.http.get(f"/v1/alerts/{stored['fingerprint']}", headers=HEADERS)
        acks = [e for e in detail.json()["history"] if e.get("kind") == "ack"]
        assert [a["detail"]["via"] for a in acks] == ["silence"], acks


async def test_a_page_names_only_the_alerts_of_the_group_that_are_not_silenced(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with started_world(sqlite_url, tmp_path) as world:
        clock, fakes = world.clock, world.fakes
        # Two alerts of one group (alertname + supplier), posted Alertmanager-style.
        posted = [
            {
                "labels": {
                    "alertname": "SupplierDeliveryRateLow",
                    "supplier": "aliyun",
                    "carrier": carrier,
                    "severity": "critical",
                },
                "annotations": {"summary": "aliyun delivery low"},
                "startsAt": clock.now().isoformat(),
                "endsAt": (clock.now() + timedelta(hours=1)).isoformat(),  # past the steps
            }
            for carrier in ("cmcc", "cucc")
        ]
        answer = await world.http.post("/api/v2/alerts", json=posted, headers=HEADERS)
        assert answer.status_code == 200, answer.text
        await world.advance(30)
        assert "cucc" in world.dingtalk_texts()[0]  # both were in the group's message
        silence = {
            "matchers": [{"name": "carrier", "value": "cucc"}],
            "ends_at": (clock.now() + timedelta(hours=2)).isoformat(),
            "created_by": "zhang",
            "comment": "cucc's route is known to be down",
        }
        answer = await world.http.post("/v1/silences", json=silence, headers=HEADERS)
        assert answer.status_code in (200, 201), answer.text
        await world.advance(300)  # the 5-minute step: the cmcc alert still pages
        [call] = fakes.voice.calls.values()
        assert call.tts_param["summary"].endswith("共1条"), call.tts_param


async def test_a_mute_time_interval_holds_escalation_steps_until_it_ends(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with started_world(sqlite_url, tmp_path, MUTED_ALERTING) as world:
        fakes = world.fakes
        await fire(world)
        await world.advance(30)
        assert len(world.dingtalk_texts()) == 1
        await world.advance(20 * 60 - 31)  # 08:19:59: both voice steps came due while muted
        assert fakes.voice.calls == {}
        await world.advance(2)  # the mute is over and nobody acknowledged: the steps go out,
        [call] = fakes.voice.calls.values()  # both to phone-primary: one call, not two
        assert call.placed_at == T0 + timedelta(minutes=20)
