"""Alerts posted to POST /api/v2/alerts in Alertmanager's shape are grouped and reach a webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from controlplane.service import ControlPlane
from controlplane.settings import Settings
from controlplane.web.app import create_app
from smsplatform.clock import ManualClock
from testbench.fakes.server import running_fake
from testbench.fakes.webhook import WebhookReceiverFake

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
ADMIN = "posted-alerts-admin-token-0123"
SENDER = "posted-alerts-ingest-token-0123"
OPERATOR = "posted-alerts-operator-token-01"
ALERTING = """
global:
  resolve_timeout: 5m
route:
  receiver: hook
  group_by: [service]
  group_wait: 1s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs:
      - url: {url}/alerts
"""


@dataclass
class PostWorld:
    clock: ManualClock
    service: ControlPlane
    http: httpx.AsyncClient
    hook: WebhookReceiverFake

    async def post(self, alerts: Any, token: str = SENDER) -> httpx.Response:
        return await self.http.post(
            "/api/v2/alerts", json=alerts, headers={"Authorization": f"Bearer {token}"}
        )

    async def advance(self, seconds: int) -> None:
        assert self.service.alerting is not None
        for _ in range(seconds):
            self.clock.advance(1)
            await self.service.alerting.stage.tick()

    def payloads(self) -> list[dict[str, Any]]:
        return list(self.hook.inbox.bodies())


@asynccontextmanager
async def posting_world(tmp_path: Path, database_url: str) -> AsyncIterator[PostWorld]:
    clock = ManualClock(T0)
    hook = WebhookReceiverFake(clock)
    async with running_fake(hook.app) as hook_url:
        alerting = tmp_path / "alerting.yaml"
        alerting.write_text(ALERTING.format(url=hook_url))
        tokens = [
            {"name": "root", "token": ADMIN, "scopes": ["admin"]},
            {"name": "prometheus", "token": SENDER, "scopes": ["ingest"]},
            {"name": "ops", "token": OPERATOR, "scopes": ["operator"]},
        ]
        settings = Settings.model_validate(
            {
                "database": {"url": database_url},
                "bus": {"backend": "memory"},
                "rules": {"watch": False},
                "auth": {"tokens": tokens},
                "alerting": {"config": str(alerting), "public_url": "http://console.example"},
            }
        )
        service = ControlPlane(settings, environ={}, clock=clock, tick_alerting=False)
        await service.start()
        try:
            transport = httpx.ASGITransport(app=create_app(service))
            async with httpx.AsyncClient(transport=transport, base_url="http://smsctl") as http:
                yield PostWorld(clock, service, http, hook)
        finally:
            await service.stop()


def alert(service: str, instance: str, **extra: Any) -> dict[str, Any]:
    return {
        "labels": {"alertname": "HighLatency", "service": service, "instance": instance},
        "annotations": {"summary": f"{service} on {instance} is slow"},
        "startsAt": (T0 - timedelta(minutes=1)).isoformat(),
        "generatorURL": f"http://prometheus/graph?g0.expr={service}",
        **extra,
    }


async def test_posted_alerts_are_grouped_and_sent_to_the_webhook_as_alertmanager_sends_them(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with posting_world(tmp_path, sqlite_url) as world:
        answer = await world.post(
            [alert("api", "a"), alert("api", "b"), alert("db", "c"), alert("api", "a")]
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"accepted": 4, "firing": 4, "resolved": 0}
        assert world.payloads() == []  # group_wait not over yet

        await world.advance(1)
        by_group = {p["groupLabels"]["service"]: p for p in world.payloads()}
        assert sorted(by_group) == ["api", "db"]
        api = by_group["api"]
        assert sorted(api) == sorted(
            [
                "receiver",
                "status",
                "alerts",
                "groupLabels",
                "commonLabels",
                "commonAnnotations",
                "externalURL",
                "version",
                "groupKey",
                "truncatedAlerts",
            ]
        )
        assert api["receiver"] == "hook" and api["status"] == "firing"
        assert api["version"] == "4" and api["truncatedAlerts"] == 0
        assert api["groupKey"] == '{}:{service="api"}'
        assert api["commonLabels"] == {"alertname": "HighLatency", "service": "api"}
        assert [a["labels"]["instance"] for a in api["alerts"]] == ["a", "b"]
        first = api["alerts"][0]
        assert first["status"] == "firing"
        assert first["startsAt"] == "2026-11-25T07:59:00Z"
        assert first["endsAt"] == "0001-01-01T00:00:00Z"
        assert first["generatorURL"] == "http://prometheus/graph?g0.expr=api"
        assert first["annotations"] == {"summary": "api on a is slow"}


async def test_alert_posted_with_a_past_end_sends_the_resolved_notification(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with posting_world(tmp_path, sqlite_url) as world:
        await world.post([alert("api", "a")])
        await world.advance(1)
        ended = (T0 + timedelta(seconds=30)).isoformat()
        await world.advance(60)
        answer = await world.post([alert("api", "a", endsAt=ended)])
        assert answer.json()["resolved"] == 1
        await world.advance(300)  # the group's next flush, group_interval later
        statuses = [p["status"] for p in world.payloads()]
        assert statuses == ["firing", "resolved"]
        assert world.payloads()[1]["alerts"][0]["endsAt"] == "2026-11-25T08:00:30Z"


async def test_an_alert_not_posted_again_resolves_after_resolve_timeout(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with posting_world(tmp_path, sqlite_url) as world:
        await world.post([{"labels": {"alertname": "Down", "service": "api"}}])
        await world.advance(1)
        await world.advance(298)  # still within resolve_timeout: nothing new
        assert [p["status"] for p in world.payloads()] == ["firing"]
        await world.advance(301)  # expired at 5m, sent at the group's next flush
        assert [p["status"] for p in world.payloads()] == ["firing", "resolved"]


@pytest.mark.parametrize(
    ("alerts", "field"),
    [
        ([{"labels": {"alertname": "A"}}, {"annotations": {"x": "y"}}], "alerts[1].labels"),
        ([{"labels": {"alertname": 5}}], "alerts[0].labels.alertname"),
        ({"labels": {"alertname": "A"}}, "alerts"),
        ([{"labels": {}}], "alerts[0].labels"),
        ([{"labels": {"bad-name": "x"}}], "alerts[0].labels.bad-name"),
        ([{"labels": {"a": "b"}, "startsAt": "yesterday"}], "alerts[0].startsAt"),
        (
            [
                {
                    "labels": {"a": "b"},
                    "startsAt": "2026-11-25T08:00:00Z",
                    "endsAt": "2026-11-25T07:00:00Z",
                }
            ],
            "alerts[0].endsAt",
        ),
    ],
)
async def test_a_malformed_alert_is_answered_400_naming_the_field(
    tmp_path: Path, sqlite_url: str, alerts: Any, field: str
) -> None:
    async with posting_world(tmp_path, sqlite_url) as world:
        answer = await world.post(alerts)
        assert answer.status_code == 400
        assert answer.json()["field"] == field


async def test_the_valid_alerts_of_a_batch_with_a_bad_one_are_still_notified(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with posting_world(tmp_path, sqlite_url) as world:
        answer = await world.post([alert("api", "a"), {"labels": {}}, alert("db", "c")])
        assert answer.status_code == 400
        assert answer.json()["accepted"] == 2
        assert [p["field"] for p in answer.json()["problems"]] == ["alerts[1].labels"]
        await world.advance(1)
        assert sorted(p["groupLabels"]["service"] for p in world.payloads()) == ["api", "db"]


async def test_posting_alerts_needs_an_ingest_token(tmp_path: Path, sqlite_url: str) -> None:
    async with posting_world(tmp_path, sqlite_url) as world:
        assert (
            await world.post([alert("api", "a")], token="wrong-token-0123456789")
        ).status_code == 401
        assert (await world.post([alert("api", "a")], token=OPERATOR)).status_code == 403
        assert (await world.post([alert("api", "a")], token=ADMIN)).status_code == 200
