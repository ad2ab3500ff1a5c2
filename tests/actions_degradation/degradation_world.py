"""A degradation service on a real bus, database and alerting stage, driven by a ManualClock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from controlplane.actions.degradation import DegradationService, build_degradation
from controlplane.actions.degradation_readings import ReceiptRate
from controlplane.actions.degradation_store import DegradationVersion
from controlplane.alerting.config import Route, RouteOptions
from controlplane.alerting.pipeline import AlertingStage, Channel, Receiver
from controlplane.settings import DegradationSettings, PrometheusSettings
from controlplane.storage import CONTROL_PLANE_HISTORY, Database
from notifiers.base import Notification, NotifyResult, Outcome
from sendtier.storage import SENDTIER_HISTORY
from smsplatform.bus import RECEIPTS, MemoryBus
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import ManualClock
from smsplatform.contracts import MessageClass, Receipt, encode_batch

T0 = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)
# Samples at 30 receipts/s and back below 20; sheds marketing at 300/s.
INGEST_LEVELS = {
    "sample": {"enter": 30, "exit": 20},
    "shed_marketing": {"enter": 300, "exit": 200},
}


def degradation_settings(**changes: Any) -> DegradationSettings:
    raw: dict[str, Any] = {
        "min_dwell_up_s": 0,
        "min_dwell_down_s": 0,
        "sample_ratio": 0.25,
        "triggers": {"ingest_rate": {"levels": INGEST_LEVELS}},
    }
    return DegradationSettings.model_validate({**raw, **changes})


class RecordingChannel:
    """A notification channel double (the outside service): keeps what it was sent."""

    channel = "webhook"

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def send(self, notification: Notification) -> NotifyResult:
        self.sent.append(notification)
        return NotifyResult(Outcome.DELIVERED, self.channel)

    async def aclose(self) -> None:
        return None

    def summaries(self) -> list[tuple[str, str]]:
        return [
            (alert.status, alert.annotations["summary"])
            for notification in self.sent
            for alert in notification.alerts
        ]


@dataclass
class World:
    bus: MemoryBus
    database: Database
    clock: ManualClock
    channel: RecordingChannel
    stage: AlertingStage
    settings: DegradationSettings
    service: DegradationService

    @property
    def rate(self) -> ReceiptRate:
        """The ingest-rate source when it is our own count (not a PromQL query)."""
        source = self.service.sources["ingest_rate"]
        assert isinstance(source, ReceiptRate)
        return source

    async def receipts(self, count: int, message_class: MessageClass = "marketing") -> None:
        """`count` receipts on sms.receipts, counted by the ingest-rate source before returning."""
        expected = self.rate.counted + count
        batch = [receipt(f"m-{n}", message_class) for n in range(count)]
        await self.bus.publish(RECEIPTS, encode_batch(batch))
        await until(lambda: self.rate.counted >= expected)

    async def traffic(self, receipts: int, seconds: float = 10) -> DegradationVersion | None:
        """`receipts` over the next `seconds`, then an evaluation; the version it made, if any."""
        await self.receipts(receipts)
        self.clock.advance(seconds)
        return await self.service.evaluate()

    def restart(self) -> DegradationService:
        """Another control plane process on the same bus and database."""
        return make_service(self.bus, self.database, self.clock, self.stage, self.settings)

    async def notify(self) -> None:
        """Let the alerting stage send what is due (no group wait in this route)."""
        await self.stage.tick(self.clock.now())


def receipt(message_id: str, message_class: MessageClass, weight: float = 1.0) -> Receipt:
    return Receipt(
        message_id=message_id,
        supplier="aliyun-main",
        carrier="cmcc",
        message_class=message_class,
        status="DELIVERED",
        submitted_at=T0,
        reported_at=T0 + timedelta(seconds=5),
        weight=weight,
    )


async def until(condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    """Wait for something a background task does (the bus consumer); fails after timeout_s."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


def make_service(
    bus: MemoryBus,
    database: Database,
    clock: ManualClock,
    stage: AlertingStage,
    settings: DegradationSettings,
    prometheus_url: str = "http://127.0.0.1:9",
) -> DegradationService:
    """A control plane's degradation service (a second one on the same state is a restart)."""
    # By default an unreachable Prometheus: only triggers with a `promql` query ask it.
    prometheus = PrometheusSettings(url=prometheus_url, query_timeout_s=2)
    service = build_degradation(
        settings,
        prometheus,
        bus=bus,
        database=database,
        sink=stage,
        registry=CollectorRegistry(),
        persist=None,
        clock=clock,
        liveness=LivenessRegistry(clock),
    )
    return service


@asynccontextmanager
async def degradation_world(
    sqlite_url: str,
    settings: DegradationSettings | None = None,
    prometheus_url: str = "http://127.0.0.1:9",
    *,
    schedule: bool = False,
) -> AsyncIterator[World]:
    """`schedule`: the service evaluates on its own (APScheduler jobs) as well as when told."""
    bus = MemoryBus()
    await bus.start()
    database = Database(sqlite_url)
    database.upgrade(CONTROL_PLANE_HISTORY)
    database.upgrade(SENDTIER_HISTORY)
    clock = ManualClock(T0)
    channel = RecordingChannel()
    route = Route(RouteOptions("ops", group_by=frozenset({"alertname"}), group_wait_s=0))
    stage = AlertingStage(
        database=database,
        route=route,
        receivers={"ops": Receiver("ops", (Channel(channel),))},
        clock=clock,
    )
    chosen = settings or degradation_settings()
    service = make_service(bus, database, clock, stage, chosen, prometheus_url)
    await service.start(schedule=schedule)
    try:
        yield World(bus, database, clock, channel, stage, chosen, service)
    finally:
        await service.stop()
        await bus.close()
        database.dispose()
