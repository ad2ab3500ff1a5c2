"""The persistence service: consumes sms.submit, sms.submitted and sms.receipts into storage."""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from sendtier.persist.degradation import DegradationGate
from sendtier.persist.metrics import PersistServiceMetrics
from sendtier.persist.policy_feed import DegradationFeed
from sendtier.persist.writers import MESSAGES_KIND, RECEIPTS_KIND, SUBMITS_KIND, StorageWriters
from sendtier.settings import SendTierSettings
from sendtier.storage import Database
from smsplatform.bus import RECEIPTS, SUBMIT, SUBMITTED, Bus
from smsplatform.bus.consumer_metrics import ConsumerCollector
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.bus.persister import EventPersister, PersistTarget
from smsplatform.clock import Clock, system_clock
from smsplatform.contracts import OutboundMessage, Receipt, SubmitResult

log = logging.getLogger(__name__)

# Durables are "sendtier-persist-<kind>": messages, submits, receipts.
DURABLE_PREFIX: Final = "sendtier-persist-"
LEVELS: Final = ("normal", "sample", "shed_marketing", "shed_notification")


class PersistService:
    """Owns the consumers of one persistence process; `stop` drains the bus to storage first.

    The bus and the database are the caller's: started and migrated before `start`, closed
    after `stop`.
    """

    def __init__(
        self,
        settings: SendTierSettings,
        bus: Bus,
        database: Database,
        clock: Clock = system_clock,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.database = database
        self.metrics = PersistServiceMetrics()
        self.consumers = LivenessRegistry(clock, settings.bus.consumer_stuck_after_s)
        self.metrics.registry.register(ConsumerCollector(self.consumers, "sendtier_persist"))
        self.gate = DegradationGate(clock)
        self.writers = StorageWriters(database, self.gate, self.metrics)
        writers = self.writers
        targets = [
            PersistTarget(
                MESSAGES_KIND,
                SUBMIT,
                OutboundMessage,
                writers.write_messages,
                writers.decode_messages,
            ),
            PersistTarget(
                SUBMITS_KIND, SUBMITTED, SubmitResult, writers.write_submits, writers.decode_submits
            ),
            PersistTarget(
                RECEIPTS_KIND, RECEIPTS, Receipt, writers.write_receipts, writers.decode_receipts
            ),
        ]
        # A bus message carries one event or a small batch: fetch batch_events messages at once.
        self.persister = EventPersister(
            bus,
            targets,
            self.metrics,
            batch_events=settings.persist.batch_events,
            chunk_events=1,
            ack_wait_s=settings.bus.ack_wait_s,
            liveness=self.consumers,
            durable_prefix=DURABLE_PREFIX,
        )
        self.feed = DegradationFeed(
            bus,
            self.gate,
            settings.persist.degradation_durable,
            settings.bus.ack_wait_s,
            self.consumers,
        )

    async def start(self) -> None:
        # The policy first: receipts written before it is known would all be stored.
        await self.feed.start()
        await self.persister.start()
        log.info("persist.started durable_prefix=%s", DURABLE_PREFIX)

    async def stop(self) -> None:
        """Write everything already on the bus, then stop consuming."""
        log.info("persist.stopping draining=true")
        await self.persister.drain()
        await self.feed.stop()
        log.info("persist.stopped")

    async def health(self) -> dict[str, bool]:
        database_ok = await asyncio.to_thread(self.database.ping)
        return {"database": database_ok, "bus": await self.bus.healthy()}

    async def refresh_metrics(self) -> None:
        """Gauges read at scrape time: bus backlog and the degradation policy in force."""
        await self.persister.refresh_pending()
        policy = self.gate.policy
        self.metrics.degradation_version.set(policy.version if policy is not None else 0)
        level = self.gate.level()
        for name in LEVELS:
            self.metrics.degradation_level.labels(name).set(1 if name == level else 0)
