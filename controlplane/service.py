"""The control plane service: builds its parts from settings and starts and stops them in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from controlplane.actions.cutover_metrics import CutoverCollector
from controlplane.actions.cutover_service import CutoverService
from controlplane.actions.degradation import DegradationService, build_degradation
from controlplane.actions.degradation_readings import persist_figures
from controlplane.actions.rule_resume import resume_rule_actions
from controlplane.alerting.wiring import Alerting, build_alerting
from controlplane.auth import TokenSetup, build_tokens
from controlplane.engine.promql import RuleEvaluationMetrics
from controlplane.engine.runtime.engine import RuleEngine
from controlplane.engine.runtime.recorded import RecordedSeriesCollector
from controlplane.engine.runtime.sink import ActingAlertSink, AlertSink, LoggingAlertSink
from controlplane.engine.runtime.window_metrics import WindowStatsCollector
from controlplane.ingest.publisher import EventPublisher
from controlplane.metrics import ControlPlaneMetrics
from controlplane.settings import Settings
from controlplane.storage import (
    CONTROL_PLANE_HISTORY,
    AlertRepository,
    Database,
    ProbeResultRepository,
    ReceiptArchive,
    SubmitResultArchive,
    SupplierLogRepository,
)
from smsplatform.bus import Bus, make_bus
from smsplatform.bus.consumer_metrics import ConsumerCollector
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.bus.persister import EventPersister, PersistTarget
from smsplatform.clock import Clock, system_clock
from smsplatform.contracts import EVENT_KINDS

log = logging.getLogger(__name__)


class ControlPlane:
    """Owns the database, the bus and the consumers of one control plane process."""

    def __init__(
        self,
        settings: Settings,
        environ: Mapping[str, str],
        clock: Clock = system_clock,
        bus: Bus | None = None,
        sink: AlertSink | None = None,
        tick_alerting: bool = True,
        sendtier_persist: CollectorRegistry | None = None,
    ) -> None:
        """`bus`: a bus someone else starts and closes (the send tier's, in one process).
        `sink`: where firing and resolved alerts go (the alerting stage when
        settings.alerting.config is set, else logged). `tick_alerting`: False lets a test drive
        the stage's ticks itself. `sendtier_persist`: the metrics of the send tier's persistence
        when it runs in this process (degradation reads its write latency)."""
        self.settings = settings
        self.clock = clock
        self.metrics = ControlPlaneMetrics()
        # Every bus consumer of this process: /healthz and /metrics report each one's state.
        self.consumers = LivenessRegistry(clock, settings.bus.consumer_stuck_after_s)
        self.metrics.registry.register(ConsumerCollector(self.consumers, "smsctl"))
        self.tokens: TokenSetup = build_tokens(settings.auth, environ)
        self.database = Database(settings.database.url)
        self._owns_bus = bus is None
        self.bus: Bus = bus or make_bus(
            settings.bus.backend,
            url=settings.bus.url,
            stream=settings.bus.stream,
            namespace=settings.bus.namespace,
            clock=clock,
        )
        self.publisher = EventPublisher(self.bus, settings.ingest.bus_chunk_events)
        writers: dict[str, Callable[[Sequence[Any]], None]] = {
            "receipts": ReceiptArchive(self.database).add_batch,
            "submits": SubmitResultArchive(self.database).add_batch,
            "logs": SupplierLogRepository(self.database).add_batch,
            "probes": ProbeResultRepository(self.database).add_batch,
        }
        targets = [
            PersistTarget(kind, subject, event_type, writers[kind])
            for kind, (event_type, subject) in EVENT_KINDS.items()
        ]
        self.alerts = AlertRepository(self.database)
        # A broken alerting.yaml raises ConfigError here, so start-up stops with file:line.
        self.alerting: Alerting | None = (
            build_alerting(
                settings.alerting, self.database, clock, bus=self.bus, liveness=self.consumers
            )
            if sink is None
            else None
        )
        self._tick_alerting = tick_alerting
        if self.alerting is not None:
            sink = self.alerting.stage
        # Rule actions (cut-over, degradation) run once their notices have reached alerting.
        self.actions_sink = ActingAlertSink(sink or LoggingAlertSink())
        self.cutover = CutoverService(
            settings.cutover,
            self.database,
            self.bus,
            self.actions_sink.downstream,
            clock,
            self.consumers,
        )
        self.actions_sink.register("cutover", self.cutover)
        self.metrics.registry.register(CutoverCollector(self.cutover, clock))
        self.degradation: DegradationService = build_degradation(
            settings.degradation,
            settings.prometheus,
            bus=self.bus,
            database=self.database,
            sink=self.actions_sink.downstream,
            registry=self.metrics.registry,
            persist=persist_figures(
                settings.ingest.persist_enabled, self.metrics.registry, sendtier_persist
            ),
            clock=clock,
            liveness=self.consumers,
        )
        self.actions_sink.register("degrade", self.degradation)
        self.rules = RuleEngine(
            settings.rules,
            settings.prometheus,
            self.bus,
            self.alerts,
            self.actions_sink,
            RuleEvaluationMetrics(self.metrics.registry),
            clock,
            self.consumers,
        )
        self.metrics.registry.register(RecordedSeriesCollector(lambda: self.rules.evaluator))
        self.metrics.registry.register(WindowStatsCollector(self.rules.store))
        self.persister = EventPersister(
            self.bus,
            targets,
            self.metrics,
            batch_events=settings.ingest.persist_batch,
            chunk_events=settings.ingest.bus_chunk_events,
            ack_wait_s=settings.bus.ack_wait_s,
            liveness=self.consumers,
        )

    async def start(self) -> None:
        log.info(
            "starting database=%s bus=%s",
            self.database.engine.url.render_as_string(hide_password=True),
            self.settings.bus.backend,
        )
        await asyncio.to_thread(self.database.upgrade, CONTROL_PLANE_HISTORY)
        if self._owns_bus:
            await self.bus.start()
        if self.settings.ingest.persist_enabled:
            await self.persister.start()
        await self.cutover.start()
        await self.degradation.start()
        await self.rules.start()
        await resume_rule_actions(self.rules, self.actions_sink)
        if self.alerting is not None:
            await self.alerting.start(tick=self._tick_alerting)
        log.info("started")

    async def stop(self) -> None:
        """Drain the bus to storage, then close the bus and the database."""
        log.info("stopping: draining the bus to storage")
        await self.rules.stop()
        await self.cutover.stop()
        await self.degradation.stop()
        if self.alerting is not None:
            await self.alerting.stop()
        await self.persister.drain()
        if self._owns_bus:
            await self.bus.close()
        self.database.dispose()
        log.info("stopped")

    async def health(self) -> dict[str, bool]:
        database_ok = await asyncio.to_thread(self.database.ping)
        return {"database": database_ok, "bus": await self.bus.healthy()}
