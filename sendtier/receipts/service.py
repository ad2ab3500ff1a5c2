"""The receipt gateway service: its parts built from settings, its bus feeds, sweeps and purges."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from sendtier.persist.degradation import DegradationGate
from sendtier.persist.policy_feed import DegradationFeed
from sendtier.receipts.correlation import CorrelationIndex, Correlator
from sendtier.receipts.gateway import ReceiptGateway
from sendtier.receipts.held import HeldReports
from sendtier.receipts.index_feed import SubmittedFeed
from sendtier.receipts.metrics import GatewayMetrics
from sendtier.receipts.orphans import OrphanKeeper
from sendtier.receipts.publisher import ReceiptPublisher
from sendtier.receipts.replays import ReplayMemory
from sendtier.receipts.sampling import ReceiptSampler
from sendtier.receipts.sources import PushSources
from sendtier.service_metrics import refresh_bus_pending
from sendtier.settings import SendTierSettings
from sendtier.storage import (
    Database,
    OrphanReceiptRepository,
    SubmitResultRepository,
    TakenReportRepository,
)
from smsplatform.bus import SUBMITTED, Bus
from smsplatform.bus.consumer_metrics import ConsumerCollector
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import Clock
from suppliers.base import CallbackReader

log = logging.getLogger(__name__)

# Sweeps run this often at most; a report waits at most its window plus one interval.
MAX_SWEEP_INTERVAL_S = 0.5
# The replay memory is purged this often (clock seconds).
PURGE_INTERVAL_S = 60.0


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
        self._clock = clock
        self.metrics = GatewayMetrics()
        self.consumers = LivenessRegistry(clock, settings.bus.consumer_stuck_after_s)
        self.metrics.registry.register(ConsumerCollector(self.consumers, "sendtier_receipts"))
        self.index = CorrelationIndex(gateway_settings.correlation_cache_size)
        self.gate = DegradationGate(clock)
        taken_reports = TakenReportRepository(database)
        correlator = Correlator(self.index, SubmitResultRepository(database))
        publisher = ReceiptPublisher(bus, ReceiptSampler(self.gate), self.metrics)
        orphans = OrphanKeeper(OrphanReceiptRepository(database), self.metrics)
        self.replays = ReplayMemory(
            taken_reports,
            clock,
            gateway_settings.replay_horizon_s,
            gateway_settings.replay_memory_max,
        )
        self.held = HeldReports(
            repository=taken_reports,
            # Each replica has its own index durable: its name tells whose held reports are whose.
            holder=gateway_settings.index_durable,
            capacity=gateway_settings.held_reports_max,
            window_s=gateway_settings.correlation_retry_s,
            correlator=correlator,
            publisher=publisher,
            orphans=orphans,
            clock=clock,
            metrics=self.metrics,
        )
        self.gateway = ReceiptGateway(
            readers=readers,
            sources=PushSources(settings.suppliers),
            replays=self.replays,
            correlator=correlator,
            publisher=publisher,
            held=self.held,
            orphans=orphans,
            clock=clock,
            metrics=self.metrics,
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
        self._purged_at: float | None = None

    async def start(self) -> None:
        # The policy first: a push answered before it is known would publish every receipt.
        await self.policy_feed.start()
        await self.feed.start()
        await self.held.load()
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="receipts-sweep")
        log.info(
            "event=receipts.started suppliers=%s retry_window_s=%s held=%d",
            ",".join(sorted(self.gateway.suppliers)),
            self.settings.receipts.correlation_retry_s,
            self.held.count,
        )

    async def stop(self) -> None:
        """Stop sweeping and feeding; held reports are looked up once more, the rest kept held."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self.feed.stop()
        try:
            result = await self.held.sweep()
        except Exception:
            log.exception("event=receipts.last_sweep_failed held=%d", self.held.count)
        else:
            log.info(
                "event=receipts.stopped published=%d orphaned=%d still_held=%d",
                result.published,
                result.orphaned,
                result.pending,
            )
        await self.policy_feed.stop()

    async def health(self) -> dict[str, bool]:
        database_ok = await asyncio.to_thread(self.database.ping)
        return {"database": database_ok, "bus": await self.bus.healthy()}

    async def refresh_metrics(self) -> None:
        """Gauges read at scrape time: index, policy and the sms.submitted backlog."""
        # Only the index feed: the degradation feed holds its newest policy un-acked on purpose,
        # so its backlog is always one and says nothing.
        await refresh_bus_pending(
            self.bus, self.metrics.bus_pending, {SUBMITTED: self.settings.receipts.index_durable}
        )
        self.metrics.index_size.set(len(self.index))
        policy = self.gate.policy
        self.metrics.degradation_version.set(policy.version if policy is not None else 0)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval_s)
            try:
                await self._maintain()
            except Exception:
                log.exception("event=receipts.upkeep_failed held=%d", self.held.count)

    async def _maintain(self) -> None:
        """One round of upkeep: sweep held reports, and purge the replay memory when due."""
        if self.held.count:
            await self.held.sweep()
        now = self._clock.monotonic()
        if self._purged_at is None or now - self._purged_at >= PURGE_INTERVAL_S:
            self._purged_at = now
            await self.replays.purge()
