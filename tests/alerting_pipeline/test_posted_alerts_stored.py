"""Alerts posted to POST /api/v2/alerts are kept in storage: the alerts API serves them."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from test_posted_alerts_api import OPERATOR, T0, PostWorld, alert, posting_world

from controlplane.engine.alerts import fingerprint

LABELS = {"alertname": "HighLatency", "service": "api", "instance": "a"}


async def stored_alert(world: PostWorld, state: str) -> dict[str, Any]:
    """The alert as GET /v1/alerts/{fp} serves it once it is stored in `state` (saved in the
    background by a tick after the post)."""
    headers = {"Authorization": f"Bearer {OPERATOR}"}
    deadline = time.monotonic() + 5
    while True:
        answer = await world.http.get(f"/v1/alerts/{fingerprint(LABELS)}", headers=headers)
        if answer.status_code == 200 and answer.json()["state"] == state:
            body: dict[str, Any] = answer.json()
            return body
        assert time.monotonic() < deadline, answer.text
        await asyncio.sleep(0.01)


async def test_a_posted_alert_is_served_with_its_history_and_resolves_when_posted_ended(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with posting_world(tmp_path, sqlite_url) as world:
        assert (await world.post([alert("api", "a")])).status_code == 200
        await world.advance(1)  # group_wait: the webhook is notified
        firing = await stored_alert(world, "firing")
        assert firing["rule"] == "posted/HighLatency"
        assert firing["labels"] == LABELS
        assert firing["annotations"] == {"summary": "api on a is slow"}
        assert firing["started_at"] == (T0 - timedelta(minutes=1)).isoformat()
        kinds = [(e["kind"], e["to"]) for e in firing["history"]]
        assert kinds == [("state", "firing"), ("notification", None)]
        assert firing["history"][1]["detail"]["receiver"] == "hook"

        headers = {"Authorization": f"Bearer {OPERATOR}"}
        listed = (await world.http.get("/v1/alerts", headers=headers)).json()["alerts"]
        assert [a["fingerprint"] for a in listed] == [fingerprint(LABELS)]

        ended = alert("api", "a", endsAt=world.clock.now().isoformat())
        ended_at = world.clock.now()
        assert (await world.post([ended])).status_code == 200
        await world.advance(1)  # saved by the stage between its flushes
        resolved = await stored_alert(world, "resolved")
        assert resolved["resolved_at"] == ended_at.isoformat()
        changes = [(e["from"], e["to"]) for e in resolved["history"] if e["kind"] == "state"]
        assert changes == [(None, "firing"), ("firing", "resolved")]
        assert (await world.http.get("/v1/alerts", headers=headers)).json()["alerts"] == []


async def test_a_posted_alert_that_expires_is_stored_resolved(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with posting_world(tmp_path, sqlite_url) as world:
        assert (await world.post([alert("api", "a")])).status_code == 200
        await world.advance(301)  # resolve_timeout (5m) passes without a re-post
        resolved = await stored_alert(world, "resolved")
        assert resolved["resolved_at"] == (T0 + timedelta(minutes=5)).isoformat()
