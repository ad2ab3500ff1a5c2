"""The receipt gateway service: its parts built from settings, its bus feeds and retry sweeps."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from controlplane.bus import SUBMITTED, Bus
from controlplane.bus.consumer_metrics import ConsumerCollector
from controlplane.bus.liveness import LivenessRegistry
from controlplane.clock import Clock
from controlplane.storage import Database, OrphanReceiptRepository, SubmitResultRepository
from sendtier.persist.degradation import DegradationGate
from sendtier.persist.policy_feed import DegradationFeed
from sendtier.receipts.correlation import CorrelationIndex, Correlator
from sendtier.receipts.gateway import ReceiptGateway
from sendtier.receipts.index_feed import SubmittedFeed
from sendtier.receipts.metrics import GatewayMetrics
from sendtier.receipts.retry_buffer import RetryBuffer
from sendtier.receipts.sampling import ReceiptSampler
from sendtier.service_metrics import refresh_bus_pending
from sendtier.settings import SendTierSettings
from sendtier.suppliers.base import CallbackReader

log = logging.getLogger(__name__)

# Sweeps run this often at most; a report waits at most its window plus one interval.
MAX_SWEEP_INTERVAL_S = 0.5


class ReceiptGatewayService:
    """Owns one process's gateway; the bus and database are the caller's (started, migrated)."""

    def __init__(
        self,
        settings: SendTierSettings,
        bus: Bus,
        database: Database,
        readers: Mapping[str, CallbackReader],
        clock: Clock,
    ) -> None:
        gateway_settings = settings.receipts
        self.settings = settings
        self.bus = bus
        self.database = database
        self.metrics = GatewayMetrics()
        self.consumers = LivenessRegistry(clock, settings.bus.consumer_stuck_after_s)
        self.metrics.registry.register(ConsumerCollector(self.consumers, "sendtier_receipts"))
        self.index = CorrelationIndex(gateway_settings.correlation_cache_size)
        self.gate = DegradationGate(clock)
        self.gateway = ReceiptGateway(
            bus=bus,
            readers=readers,
            correlator=Correlator(self.index, SubmitResultRepository(database)),
            orphans=OrphanReceiptRepository(database),
            buffer=RetryBuffer(gateway_settings.retry_buffer_max),
            retry_window_s=gateway_settings.correlation_retry_s,
            clock=clock,
            metrics=self.metrics,
            sampler=ReceiptSampler(self.gate),
        )
        self.feed = SubmittedFeed(
            bus,
            self.index,
            gateway_settings.index_durable,
            settings.bus.ack_wait_s,
            self.consumers,
        )
        self.policy_feed = DegradationFeed(
            bus,
            self.gate,
            gateway_settings.degradation_durable,
            settings.bus.ack_wait_s,
            self.consumers,
        )
        self._sweep_interval_s = min(MAX_SWEEP_INTERVAL_S, gateway_settings.correlation_retry_s / 5)
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # The policy first: a push answered before it is known would publish every receipt.
        await self.policy_feed.start()
        await self.feed.start()
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="receipts-sweep")
        log.info(
            "receipts.started suppliers=%s retry_window_s=%s",
            ",".join(sorted(self.gateway.suppliers)),
            self.settings.receipts.correlation_retry_s,
        )

    async def stop(self) -> None:
        """Stop sweeping and feeding; reports still held are looked up once more, then kept."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self.feed.stop()
        result = await self.gateway.sweep(final=True)
        await self.policy_feed.stop()
        if result.pending:
            # Only when the database refused them too: nowhere left to keep them.
            log.error("receipts.stopped lost_reports=%d", result.pending)
        log.info("receipts.stopped published=%d orphaned=%d", result.published, result.orphaned)

    async def health(self) -> dict[str, bool]:
        database_ok = await asyncio.to_thread(self.database.ping)
        return {"database": database_ok, "bus": await self.bus.healthy()}

    async def refresh_metrics(self) -> None:
        """Gauges read at scrape time: index, retry buffer, policy and the sms.submitted backlog."""
        # Only the index feed: the degradation feed holds its newest policy un-acked on purpose,
        # so its backlog is always one and says nothing.
        await refresh_bus_pending(
            self.bus, self.metrics.bus_pending, {SUBMITTED: self.settings.receipts.index_durable}
        )
        self.metrics.index_size.set(len(self.index))
        self.metrics.retry_buffer.set(self.gateway.pending)
        policy = self.gate.policy
        self.metrics.degradation_version.set(policy.version if policy is not None else 0)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval_s)
            if not self.gateway.pending:
                continue
            try:
                await self.gateway.sweep()
            except Exception:
                log.exception("receipts.sweep failed pending=%d", self.gateway.pending)
