"""Acknowledgement by an operator over real HTTP: through the API and the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest
from ack_world import FINGERPRINT, GROUP, INGEST_TOKEN, OPERATOR_TOKEN, World, ack_world

from controlplane.alerting.escalation import ack_command

UNKNOWN_GROUP = '{}:{alertname="Nope"}'


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[World]:
    async with ack_world(sqlite_url) as world:
        yield world


async def test_operator_acks_an_alert_through_the_api_and_escalation_stops(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.url) as client:
        refused = await client.post(
            f"/v1/alerts/{FINGERPRINT}/ack", headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
        )
        assert refused.status_code == 403
        response = await client.post(
            f"/v1/alerts/{FINGERPRINT}/ack", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        )
    assert response.status_code == 200
    assert response.json()["groups"] == [GROUP]
    assert world.pending() == []
    [event] = world.alerts.history(FINGERPRINT)
    assert (event.kind, event.detail["by"], event.detail["via"]) == ("ack", "oncall-alice", "api")


async def test_a_group_is_acked_by_its_key_and_an_unknown_group_is_a_404(world: World) -> None:
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    async with httpx.AsyncClient(base_url=world.url, headers=headers) as client:
        unknown = await client.post(f"/v1/groups/{quote(UNKNOWN_GROUP, safe='')}/ack")
        bad_via = await client.post(
            f"/v1/groups/{quote(GROUP, safe='')}/ack", json={"via": "pigeon"}
        )
        acked = await client.post(
            f"/v1/groups/{quote(GROUP, safe='')}/ack", json={"via": "console"}
        )
    assert unknown.status_code == 404 and unknown.json()["field"] == "group_key"
    assert bad_via.status_code == 422 and bad_via.json()["field"] == "via"
    assert acked.status_code == 200 and acked.json()["via"] == "console"
    assert world.pending() == []


async def test_the_cli_acks_an_alert_and_fails_for_an_unknown_one(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await asyncio.to_thread(ack_command, world.url, OPERATOR_TOKEN, FINGERPRINT) == 0
    assert GROUP in capsys.readouterr().out
    assert await asyncio.to_thread(ack_command, world.url, OPERATOR_TOKEN, "ffffffffffffffff") == 1
    assert "no alert with fingerprint" in capsys.readouterr().err
    assert world.pending() == []
    [event] = world.alerts.history(FINGERPRINT)
    assert event.detail["via"] == "cli"
