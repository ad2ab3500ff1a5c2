"""The dispatch service: consumes `sms.submit`, sends each message, acks once its results are out.

One OutboundMessage per bus message (msgspec msgpack), from the durable `dispatch` shared by
every dispatcher replica (a work queue). Messages run as asyncio tasks, at most `max_in_flight`
at once: the loop fetches only as many messages as it has free slots. A message is acked only
after every attempt's SubmitResult is on the bus (at least once); one that could not be sent yet
is left un-acked, so the bus redelivers it after `ack_wait_s`. A supplier gets it once all the
same: a message that a supplier took is marked submitted in the database before its results go
out, and a redelivery finds the mark (attempts.py, submitted.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict
from collections.abc import Mapping

import msgspec

from sendtier.dispatch.attempts import Disposition, MessageSender
from sendtier.dispatch.calls import Sleep
from sendtier.dispatch.limits import SupplierGates
from sendtier.dispatch.metrics import DispatchMetrics
from sendtier.dispatch.results import EventPublisher
from sendtier.dispatch.routing import RouteBook, table_from_settings
from sendtier.dispatch.routing_feed import RoutingFeed
from sendtier.dispatch.submitted import SubmittedMarkers
from sendtier.service_metrics import refresh_bus_pending
from sendtier.settings import SendTierSettings
from sendtier.storage import Database
from sendtier.storage.dispatch_repositories import SubmittedMarkerRepository
from smsplatform.bus import SUBMIT, Bus, Delivery
from smsplatform.bus.consume import Batch, Consumer, raw_payload
from smsplatform.bus.consumer_metrics import ConsumerCollector
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import Clock, system_clock
from smsplatform.contracts import OutboundMessage, RoutingTable
from suppliers.base import SupplierAdapter

logger = logging.getLogger(__name__)

SUBMIT_DURABLE = "dispatch"
# Most messages taken from the bus in one fetch.
FETCH_MAX = 256
# A fetch returns as soon as messages arrive; this only bounds how long stop() waits for it.
FETCH_TIMEOUT_S = 0.5
# Message ids finished recently, to ack a redelivery of a message already sent (its first ack
# was lost, or came after ack_wait) instead of sending it twice.
RECENT_IDS = 100_000
# What lets a bus message be acked: its sends are over, or were over before.
_ACKED = frozenset({Disposition.DONE, Disposition.ALREADY_SENT})

_outbound_decoder = msgspec.msgpack.Decoder(OutboundMessage)


class Dispatcher:
    """Sends accepted messages through the supplier adapters, following the routing table.

    `adapters` maps each configured supplier's name to its adapter; every adapter needs a
    SupplierSettings of the same name (for its limits and templates). `database` (migrated by
    the caller) keeps the submitted markers, shared by every replica. `instance` names this
    replica: its routing durable is `<instance>-routing`, so replicas must differ (each needs
    every routing table). `sleep` waits in real time; tests pass one that moves a ManualClock.
    """

    def __init__(
        self,
        settings: SendTierSettings,
        bus: Bus,
        adapters: Mapping[str, SupplierAdapter],
        *,
        database: Database,
        clock: Clock = system_clock,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
        instance: str = "dispatch",
    ) -> None:
        suppliers = {supplier.name: supplier for supplier in settings.suppliers}
        unconfigured = sorted(set(adapters) - set(suppliers))
        if unconfigured:
            raise ValueError(f"adapters without supplier settings: {', '.join(unconfigured)}")
        self._settings = settings.dispatch
        self._bus = bus
        self.metrics = DispatchMetrics()
        self.route_book = RouteBook(
            table_from_settings(settings.dispatch.default_routes, clock.now()), rng
        )
        self._publisher = EventPublisher(bus, sleep)
        self._sender = MessageSender(
            route_book=self.route_book,
            gates=SupplierGates((suppliers[name] for name in adapters), clock.monotonic()),
            adapters=adapters,
            suppliers=suppliers,
            publisher=self._publisher,
            markers=SubmittedMarkers(SubmittedMarkerRepository(database), clock),
            metrics=self.metrics,
            clock=clock,
            sleep=sleep,
            callback_base_url=settings.receipts.public_url,
        )
        # Every bus consumer of this dispatcher, for /healthz and /metrics.
        self.consumers = LivenessRegistry(clock, settings.bus.consumer_stuck_after_s)
        self.metrics.registry.register(ConsumerCollector(self.consumers, "sendtier_dispatch"))
        self._feed = RoutingFeed(
            bus,
            self.route_book,
            durable=f"{instance}-routing",
            cache_path=settings.dispatch.routing_cache_path,
            on_applied=self._routing_applied,
            liveness=self.consumers,
        )
        self._slots = asyncio.Semaphore(settings.dispatch.max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_progress: set[str] = set()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._consumer: Consumer[bytes] | None = None
        self.metrics.routing_version.set(self.route_book.version)

    @property
    def routing_table(self) -> RoutingTable:
        """The routing table in force."""
        return self.route_book.table

    async def start(self) -> None:
        """Load the cached routing table, follow `cp.routing`, and start consuming."""
        self._feed.load_cache()
        self._publisher.start()
        await self._feed.start()
        subscription = await self._bus.subscribe(
            SUBMIT, SUBMIT_DURABLE, ack_wait=self._settings.ack_wait_s
        )
        # Each message is decoded by its own task (_handle), which counts an unreadable one.
        self._consumer = Consumer(
            SUBMIT_DURABLE,
            subscription,
            raw_payload,
            self._spawn,
            liveness=self.consumers,
            fetch_max=FETCH_MAX,
            fetch_timeout_s=FETCH_TIMEOUT_S,
            handler_settles=True,
            credit=_FreeSlots(self._slots),
        )
        self._consumer.start()
        logger.info(
            "event=dispatch_started routing_version=%d max_in_flight=%d",
            self.route_book.version,
            self._settings.max_in_flight,
        )

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop taking messages; give those in flight `grace_s` to finish, then cancel them.

        A cancelled message is not acked: the bus delivers it again (to us or a replica).
        """
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()
        if self._tasks:
            _, unfinished = await asyncio.wait(set(self._tasks), timeout=grace_s)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
            if unfinished:
                logger.warning("event=dispatch_cancelled_in_flight messages=%d", len(unfinished))
        await self._sender.close()
        await self._feed.stop()
        await self._publisher.stop()
        logger.info("event=dispatch_stopped")

    async def health(self) -> dict[str, bool]:
        # Whether its loop is alive and making progress is `consumers`' part of /healthz.
        return {"bus": await self._bus.healthy(), "consuming": self._consumer is not None}

    async def refresh_metrics(self) -> None:
        """Gauges read at scrape time: the backlog of sms.submit (shared by every replica)."""
        await refresh_bus_pending(self._bus, self.metrics.bus_pending, {SUBMIT: SUBMIT_DURABLE})

    def _routing_applied(self, table: RoutingTable) -> None:
        self.metrics.routing_version.set(table.version)

    async def _spawn(self, batch: Batch[bytes]) -> None:
        """A task per message, holding the slot the consumer took for it until it is done."""
        for delivery in batch.deliveries:
            task = asyncio.create_task(self._handle(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle(self, delivery: Delivery) -> None:
        """Dispatch one bus message; holds one in-flight slot, released at the end."""
        try:
            try:
                message = _outbound_decoder.decode(delivery.data)
            except msgspec.MsgspecError as exc:
                # No redelivery can make it readable: drop it, loudly.
                logger.error("event=submit_invalid error=%s", exc)
                self.metrics.message_handled("invalid")
                await delivery.ack()
                return
            await self._dispatch(message, delivery)
        finally:
            self._slots.release()

    async def _dispatch(self, message: OutboundMessage, delivery: Delivery) -> None:
        message_id = message.message_id
        if message_id in self._in_progress:
            # Redelivered while we still work on it: the first delivery will be acked.
            self.metrics.message_handled("duplicate_in_flight")
            return
        if message_id in self._recent:
            self.metrics.message_handled("duplicate")
            await delivery.ack()
            return
        self._in_progress.add(message_id)
        self.metrics.in_flight.inc()
        try:
            disposition = await self._sender.send(message, redelivered=delivery.attempt > 1)
            if disposition in _ACKED:
                await delivery.ack()
                self._remember(message_id)
            self.metrics.message_handled(disposition.value)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Typically the bus refused the results: the message stays un-acked and comes back.
            logger.exception(
                "event=dispatch_failed message_id=%s delivery_attempt=%d",
                message_id,
                delivery.attempt,
            )
            self.metrics.message_handled("failed")
        finally:
            self._in_progress.discard(message_id)
            self.metrics.in_flight.dec()

    def _remember(self, message_id: str) -> None:
        self._recent[message_id] = None
        if len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)


class _FreeSlots:
    """The in-flight slots as the consumer's credit: each fetch asks for every free slot."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots = slots

    async def take(self, most: int) -> int:
        await self._slots.acquire()
        free = 1
        # Take every free slot: under load one fetch brings a large batch.
        while free < most and not self._slots.locked():
            await self._slots.acquire()
            free += 1
        return free

    def give_back(self, count: int) -> None:
        for _ in range(count):
            self._slots.release()
