"""A control plane with cut-over on the memory bus, receipts in over HTTP, notices recorded."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from fastapi.testclient import TestClient

from controlplane.actions.cutover_service import CutoverService
from controlplane.actions.cutover_settings import CutoverSettings
from controlplane.engine.runtime.sink import AlertNotice
from controlplane.service import ControlPlane
from controlplane.settings import Settings
from controlplane.storage import CONTROL_PLANE_HISTORY, Database
from controlplane.web.app import create_app
from smsplatform.bus import MemoryBus
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import ManualClock
from smsplatform.contracts import Receipt
from tests.actions_cutover.world import routes

ADMIN = "cutover-admin-token-0123456789"
OPERATOR = "cutover-operator-token-012345"
INGEST = "cutover-ingest-token-01234567"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class RecordingSink:
    """Stands where the alerting stage would: keeps every notice it is given."""

    notices: list[AlertNotice] = field(default_factory=list)

    async def deliver(self, notices: Sequence[AlertNotice]) -> None:
        self.notices.extend(notices)

    def summaries(self, alertname: str, firing: bool = True) -> list[str]:
        return [
            n.annotations["summary"]
            for n in self.notices
            if n.transition.alert.labels.get("alertname") == alertname and n.is_firing == firing
        ]


def settings(database_url: str, rules: Path | None = None, **cutover: Any) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": database_url},
            "bus": {"backend": "memory", "ack_wait_s": 1.0},
            "rules": {"paths": [str(rules)] if rules else [], "watch": False},
            "auth": {
                "tokens": [
                    {"name": "root", "token": ADMIN, "scopes": ["admin"]},
                    {"name": "oncall-ann", "token": OPERATOR, "scopes": ["operator"]},
                    {"name": "feeder", "token": INGEST, "scopes": ["ingest"]},
                ]
            },
            "cutover": {
                "routes": [r.model_dump() for r in routes()],
                "safety": {"min_dwell_s": 0},
                "failback": {"cooldown_s": 60, "window_s": 10},
                **cutover,
            },
        }
    )


@contextmanager
def running(
    config: Settings, clock: ManualClock, sink: RecordingSink
) -> Iterator[tuple[TestClient, ControlPlane]]:
    service = ControlPlane(config, environ={}, clock=clock, sink=sink)
    with TestClient(create_app(service)) as client:
        yield client, service


@asynccontextmanager
async def cutover_alone(
    config: CutoverSettings, database_url: str, clock: ManualClock, sink: RecordingSink
) -> AsyncIterator[CutoverService]:
    """Cut-over on its own, on the memory bus, with no consumers and no tick: a round runs only
    when the test feeds events or calls `decide`, so what a round did can be asserted exactly."""
    bus = MemoryBus(clock=clock)
    await bus.start()
    database = Database(database_url)
    database.upgrade(CONTROL_PLANE_HISTORY)
    service = CutoverService(config, database, bus, sink, clock, LivenessRegistry(clock))
    try:
        await service.start(consume=False)
        yield service
    finally:
        await service.stop()
        await bus.close()
        database.dispose()


def post_receipts(client: TestClient, service: ControlPlane, receipts: Sequence[Receipt]) -> None:
    """Post receipts over HTTP; returns once cut-over has seen them on the bus."""
    before = service.cutover.events_seen
    body = b"\n".join(msgspec.json.encode(r) for r in receipts)
    headers = {**bearer(INGEST), "Content-Type": "application/x-ndjson"}
    answer = client.post("/v1/events/receipts", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    deadline = time.monotonic() + 5
    while service.cutover.events_seen < before + len(receipts):
        assert time.monotonic() < deadline, "cut-over never saw the receipts"
        time.sleep(0.01)


def state_of(table: dict[str, Any], supplier: str, carrier: str, message_class: str) -> str:
    for route in table["routes"]:
        if route["carrier"] == carrier and route["message_class"] == message_class:
            for entry in route["suppliers"]:
                if entry["supplier"] == supplier:
                    return str(entry["state"])
    raise AssertionError(f"{supplier} not on {carrier}/{message_class}")
