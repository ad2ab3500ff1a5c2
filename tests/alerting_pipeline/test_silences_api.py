"""The silences API and the `smsctl silence` command functions against a real HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from controlplane.alerting.pipeline import SilenceRepository
from controlplane.alerting.pipeline.silence_commands import (
    add_silence,
    expire_silence,
    format_silences,
    list_silences,
)
from controlplane.alerting.pipeline.silences_api import router
from controlplane.api_client import ApiRefused
from controlplane.storage import CONTROL_PLANE_HISTORY, Database
from smsplatform.clock import ManualClock
from smsplatform.http.errors import install_error_handlers
from smsplatform.http.serving import Served, ServerGroup
from smsplatform.http.tokens import TokenRegistry

OPERATOR = "operator-token-for-tests"
INGEST = "ingest-token-for-tests"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def api(sqlite_url: str) -> AsyncIterator[str]:
    database = Database(sqlite_url)
    database.upgrade(CONTROL_PLANE_HISTORY)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.state.tokens = TokenRegistry(
        [("ops", OPERATOR, frozenset({"operator"})), ("probe", INGEST, frozenset({"ingest"}))]
    )
    app.state.silences = SilenceRepository(database)
    app.state.clock = ManualClock(NOW)
    servers = ServerGroup([Served("silences", app)])
    urls = await servers.start()
    try:
        yield urls["silences"]
    finally:
        await servers.stop()


def body(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "matchers": [{"name": "alertname", "op": "=", "value": "SupplierDown"}],
        "starts_at": NOW.isoformat(),
        "ends_at": (NOW + timedelta(hours=2)).isoformat(),
        "created_by": "ops@example.com",
        "comment": "supplier maintenance",
    }
    return base | overrides


async def test_operator_creates_lists_and_expires_a_silence(api: str) -> None:
    headers = {"Authorization": f"Bearer {OPERATOR}"}
    async with httpx.AsyncClient(base_url=api, headers=headers) as client:
        created = await client.post("/v1/silences", json=body())
        assert created.status_code == 201
        silence_id = created.json()["id"]
        listed = (await client.get("/v1/silences")).json()["silences"]
        assert [(s["id"], s["state"], s["created_by"]) for s in listed] == [
            (silence_id, "active", "ops@example.com")
        ]
        expired = await client.delete(f"/v1/silences/{silence_id}")
        assert expired.json()["state"] == "expired"
        missing = await client.delete("/v1/silences/nope")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ends_at": (NOW - timedelta(hours=1)).isoformat()}, "ends_at"),
        ({"matchers": []}, "matchers"),
        ({"created_by": ""}, "created_by"),
        ({"matchers": [{"name": "a", "op": "=~", "value": "("}]}, "matchers.0.value"),
        ({"matchers": [{"name": "a", "op": "~", "value": "x"}]}, "matchers.0.op"),
    ],
)
async def test_bad_silence_is_a_422_naming_the_field(
    api: str, overrides: dict[str, object], field: str
) -> None:
    headers = {"Authorization": f"Bearer {OPERATOR}"}
    async with httpx.AsyncClient(base_url=api, headers=headers) as client:
        response = await client.post("/v1/silences", json=body(**overrides))
    assert response.status_code == 422
    assert response.json()["field"] == field


async def test_silences_need_the_operator_scope(api: str) -> None:
    async with httpx.AsyncClient(base_url=api) as client:
        response = await client.get("/v1/silences", headers={"Authorization": f"Bearer {INGEST}"})
    assert response.status_code == 403


async def test_silence_commands_add_list_and_expire_over_http(api: str) -> None:
    created = await asyncio.to_thread(
        add_silence,
        api,
        OPERATOR,
        ["alertname=SupplierDown", 'supplier=~"ali.*"'],
        3600,
        "me",
        "planned",
        NOW,
    )
    assert [m["op"] for m in created["matchers"]] == ["=", "=~"]
    listed = await asyncio.to_thread(list_silences, api, OPERATOR)
    assert "supplier=~'ali.*'" in format_silences(listed)
    expired = await asyncio.to_thread(expire_silence, api, OPERATOR, created["id"])
    assert expired["state"] == "expired"
    with pytest.raises(ApiRefused, match="field ends_at"):
        await asyncio.to_thread(add_silence, api, OPERATOR, ["a=b"], -60, "me", "", NOW)
