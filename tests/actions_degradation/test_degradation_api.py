"""`smsctl degrade set|show|clear` and /v1/degradation against a served control plane."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from controlplane.actions.degrade_commands import parse_until
from controlplane.service import ControlPlane
from controlplane.settings import Settings
from controlplane.web.app import create_app
from smsctl.cli import main
from smsplatform.http.serving import Served, ServerGroup

OPERATOR = "degrade-operator-token-0123"
INGEST = "degrade-ingest-token-012345"


@dataclass
class Api:
    url: str
    service: ControlPlane

    def client(self, token: str = OPERATOR) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=5)

    async def smsctl(self, *argv: str) -> int:
        """The CLI against this API, in a thread (it is synchronous, the server is not)."""
        args = ["degrade", argv[0], "--url", self.url, "--token", OPERATOR, *argv[1:]]
        return await asyncio.to_thread(main, args)


@pytest.fixture
async def api(sqlite_url: str) -> AsyncIterator[Api]:
    settings = Settings.model_validate(
        {
            "database": {"url": sqlite_url},
            "bus": {"backend": "memory"},
            "rules": {"watch": False},
            "auth": {
                "tokens": [
                    {"name": "oncall-ann", "token": OPERATOR, "scopes": ["operator"]},
                    {"name": "feeder", "token": INGEST, "scopes": ["ingest"]},
                ]
            },
            "degradation": {
                "triggers": {"ingest_rate": {"levels": {"sample": {"enter": 3000, "exit": 2000}}}}
            },
        }
    )
    service = ControlPlane(settings, environ={})
    servers = ServerGroup([Served("control-plane", create_app(service))])
    urls = await servers.start()
    try:
        yield Api(urls["control-plane"], service)
    finally:
        await servers.stop()


async def test_an_operator_sets_shows_and_clears_a_level_from_the_command_line(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    set_code = await api.smsctl(
        "set", "shed_marketing", "--until", "2h", "--reason", "singles day dry run"
    )
    shown_code = await api.smsctl("show")
    printed = capsys.readouterr().out
    clear_code = await api.smsctl("clear")
    cleared = capsys.readouterr().out

    assert (set_code, shown_code, clear_code) == (0, 0, 0)
    assert "shed_marketing" in printed and "by operator:oncall-ann until" in printed
    assert "reason: singles day dry run" in printed
    assert cleared.splitlines()[0].startswith("normal")
    assert "by auto" in cleared.splitlines()[0]
    versions = api.service.degradation.history()
    assert [(v.policy.level, v.changed_by) for v in versions] == [
        ("normal", "auto"),
        ("shed_marketing", "operator:oncall-ann"),
    ]


async def test_the_api_shows_the_policy_in_force_with_its_evidence(api: Api) -> None:
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    async with api.client() as client:
        put = await client.put(
            "/v1/degradation/manual",
            json={"level": "sample", "sample_ratio": 0.2, "until": until, "reason": "peak"},
        )
        shown = await client.get("/v1/degradation")

    assert put.status_code == 200
    current = shown.json()["current"]
    assert (current["level"], current["sample_ratio"], current["until"]) == (
        "sample",
        0.2,
        datetime.fromisoformat(until).isoformat(),
    )
    assert shown.json()["manual"]["operator"] == "oncall-ann"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"level": "sample", "until": "2020-01-01T00:00:00Z", "reason": "x"}, 422, "until"),
        ({"level": "shed_all", "until": "2099-01-01T00:00:00Z", "reason": "x"}, 422, "level"),
        ({"level": "sample", "until": "2099-01-01T00:00:00", "reason": "x"}, 422, "until"),
        (
            {
                "level": "normal",
                "sample_ratio": 0.5,
                "until": "2099-01-01T00:00:00Z",
                "reason": "x",
            },
            422,
            "sample_ratio",
        ),
    ],
)
async def test_a_bad_request_is_refused_naming_the_field(
    api: Api, body: dict[str, object], status: int, field: str
) -> None:
    async with api.client() as client:
        answer = await client.put("/v1/degradation/manual", json=body)

    assert (answer.status_code, answer.json()["field"]) == (status, field)


async def test_clearing_when_no_operator_level_holds_is_a_404(api: Api) -> None:
    async with api.client() as client:
        answer = await client.delete("/v1/degradation/manual")

    assert (answer.status_code, answer.json()["field"]) == (404, "level")


async def test_degradation_needs_the_operator_scope(api: Api) -> None:
    async with api.client(INGEST) as client:
        answer = await client.get("/v1/degradation")

    assert answer.status_code == 403


async def test_the_level_in_force_is_on_metrics(api: Api) -> None:
    await api.smsctl("set", "sample", "--until", "30m", "--reason", "metrics check")
    async with api.client() as client:
        metrics = (await client.get("/metrics")).text

    assert 'smsctl_degradation_level{level="sample"} 1.0' in metrics
    assert "smsctl_degradation_version 1.0" in metrics


def test_until_is_a_duration_from_now_or_a_time_with_its_zone() -> None:
    now = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)

    assert parse_until("90m", now) == now + timedelta(minutes=90)
    assert parse_until("2026-11-12T02:00:00+08:00", now) == datetime(
        2026, 11, 11, 18, 0, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="give the time zone"):
        parse_until("2026-11-12T02:00:00", now)
    with pytest.raises(ValueError, match="expected a duration"):
        parse_until("tonight", now)
