"""Bus consumers that write events to storage in batches, acking only what is safely written."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import Counter, Gauge, Histogram

from controlplane.bus import Bus, Delivery, Subscription
from controlplane.contracts import decode_batch

log = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 0.25
RETRY_BACKOFF_S = 0.5


class PersistMetrics(Protocol):
    """The metrics a persister reports (the control plane's, or another service's own)."""

    events_persisted: Counter
    persist_batch_seconds: Histogram
    persist_failures: Counter
    bus_pending: Gauge


@dataclass(frozen=True)
class PersistTarget:
    """One kind of event: where it arrives and how a batch of it is written."""

    kind: str
    subject: str
    event_type: type[Any]
    write_batch: Callable[[Sequence[Any]], None]
    # Payload → events; decode_batch(event_type, payload) when not given.
    decode: Callable[[bytes], Sequence[Any]] | None = None


class EventPersister:
    """Runs one durable consumer per event kind; `drain` writes everything pending, then stops."""

    def __init__(
        self,
        bus: Bus,
        targets: list[PersistTarget],
        metrics: PersistMetrics,
        *,
        batch_events: int,
        chunk_events: int,
        ack_wait_s: float,
        durable_prefix: str = "persist-",
    ) -> None:
        self._bus = bus
        self._durable_prefix = durable_prefix
        self._targets = targets
        self._metrics = metrics
        # A bus message carries up to chunk_events events; fetch enough for one write batch.
        self._fetch_messages = max(1, batch_events // chunk_events)
        self._ack_wait_s = ack_wait_s
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def durable_name(self, kind: str) -> str:
        return f"{self._durable_prefix}{kind}"

    async def start(self) -> None:
        for target in self._targets:
            subscription = await self._bus.subscribe(
                target.subject, self.durable_name(target.kind), ack_wait=self._ack_wait_s
            )
            task = asyncio.create_task(
                self._run(target, subscription), name=f"persist-{target.kind}"
            )
            self._tasks.append(task)
        log.info("persister started kinds=%s", ",".join(t.kind for t in self._targets))

    async def drain(self) -> None:
        """Stop after every message already on the bus has been written and acked."""
        self._stopping.set()
        await asyncio.gather(*self._tasks)
        self._tasks.clear()

    async def refresh_pending(self) -> None:
        if not self._tasks:  # not consuming in this process: nothing of ours to report
            return
        for target in self._targets:
            pending = await self._bus.pending(target.subject, self.durable_name(target.kind))
            self._metrics.bus_pending.labels(target.subject).set(pending)

    async def _run(self, target: PersistTarget, subscription: Subscription) -> None:
        try:
            while True:
                deliveries = await subscription.fetch(self._fetch_messages, FETCH_TIMEOUT_S)
                if deliveries:
                    await self._write(target, deliveries)
                elif self._stopping.is_set():
                    pending = await self._bus.pending(
                        target.subject, self.durable_name(target.kind)
                    )
                    if pending == 0:
                        break
                    log.info("persister draining kind=%s pending=%d", target.kind, pending)
        finally:
            await subscription.close()
            log.info("persister stopped kind=%s", target.kind)

    async def _write(self, target: PersistTarget, deliveries: list[Delivery]) -> None:
        events: list[Any] = []
        for delivery in deliveries:
            if target.decode is not None:
                events.extend(target.decode(delivery.data))
            else:
                events.extend(decode_batch(target.event_type, delivery.data))
        started = time.perf_counter()
        try:
            await asyncio.to_thread(target.write_batch, events)
        except Exception:
            # Left un-acked: the bus redelivers after ack_wait, and writes are idempotent.
            self._metrics.persist_failures.labels(target.kind).inc()
            log.exception("persist failed kind=%s events=%d", target.kind, len(events))
            await asyncio.sleep(RETRY_BACKOFF_S)
            return
        self._metrics.persist_batch_seconds.labels(target.kind).observe(
            time.perf_counter() - started
        )
        await asyncio.gather(*(delivery.ack() for delivery in deliveries))
        self._metrics.events_persisted.labels(target.kind).inc(len(events))
