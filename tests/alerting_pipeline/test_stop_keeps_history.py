"""Stopping mid-flush keeps the history of what was already sent.

A flush's history lines wait for the last flush still sending (see AlertingStage._send_all); when
that flush never finishes because the service stops, the lines are written at stop instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from controlplane.service import ControlPlane
from controlplane.settings import Settings
from controlplane.storage import AlertRepository, Database
from controlplane.web.app import create_app
from smsplatform.clock import ManualClock
from testbench.fakes.server import running_fake
from testbench.fakes.webhook import WebhookReceiverFake

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
ADMIN = "stop-history-admin-token-0123456"
ALERTING = """
route:
  receiver: hook
  group_by: [service]
  group_wait: 1s
  routes:
    - matchers: [service=stuck]
      receiver: stuck
      group_wait: 1s
receivers:
  - name: hook
    webhook_configs:
      - url: {hook}/alerts
  - name: stuck
    webhook_configs:
      - url: {stuck}/alerts
"""


@asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """An HTTP endpoint that takes the request and never answers."""

    done = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await done.wait()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        done.set()
        server.close()
        await server.wait_closed()


def alert(service: str) -> dict[str, object]:
    return {
        "labels": {"alertname": "HighLatency", "service": service},
        "annotations": {"summary": f"{service} is slow"},
        "startsAt": T0.isoformat(),
        "endsAt": (T0 + timedelta(hours=1)).isoformat(),
    }


async def test_history_of_a_finished_send_is_written_when_the_service_stops_mid_flush(
    tmp_path: Path, sqlite_url: str
) -> None:
    clock = ManualClock(T0)
    hook = WebhookReceiverFake(clock)
    async with running_fake(hook.app) as hook_url, silent_server() as stuck_url:
        alerting = tmp_path / "alerting.yaml"
        alerting.write_text(ALERTING.format(hook=hook_url, stuck=stuck_url))
        settings = Settings.model_validate(
            {
                "database": {"url": sqlite_url},
                "bus": {"backend": "memory"},
                "rules": {"watch": False},
                "auth": {"tokens": [{"name": "root", "token": ADMIN, "scopes": ["admin"]}]},
                "alerting": {"config": str(alerting), "public_url": "http://console.example"},
            }
        )
        service = ControlPlane(settings, environ={}, clock=clock, tick_alerting=False)
        await service.start()
        assert service.alerting is not None
        stage = service.alerting.stage
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(transport=transport, base_url="http://smsctl") as http:
            headers = {"Authorization": f"Bearer {ADMIN}"}
            answer = await http.post("/api/v2/alerts", json=[alert("stuck")], headers=headers)
            assert answer.status_code == 200, answer.text
            clock.advance(1)
            stuck_flush = asyncio.create_task(stage.tick())  # its send never gets an answer
            await asyncio.sleep(0.2)
            answer = await http.post("/api/v2/alerts", json=[alert("api")], headers=headers)
            assert answer.status_code == 200, answer.text
            clock.advance(1)
            assert await stage.tick() == 1  # sent while the stuck flush is still sending
            stuck_flush.cancel()
            await asyncio.gather(stuck_flush, return_exceptions=True)
        await service.stop()

    [sent] = hook.inbox.bodies()
    [sent_alert] = sent["alerts"]
    database = Database(sqlite_url)
    try:
        history = AlertRepository(database).history(sent_alert["fingerprint"])
        kinds = [event.kind for event in history]
    finally:
        database.dispose()
    assert "notification" in kinds, kinds
