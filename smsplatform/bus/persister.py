"""Bus consumers that write events to storage in batches, acking only what is safely written."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from prometheus_client import Counter, Gauge, Histogram

from smsplatform.bus import Bus
from smsplatform.bus.consume import Batch, Consumer
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.contracts import decode_batch

log = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 0.25


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
        liveness: LivenessRegistry,
        durable_prefix: str = "persist-",
    ) -> None:
        self._bus = bus
        self._durable_prefix = durable_prefix
        self._targets = targets
        self._metrics = metrics
        self._liveness = liveness
        # A bus message carries up to chunk_events events; fetch enough for one write batch.
        self._fetch_messages = max(1, batch_events // chunk_events)
        self._ack_wait_s = ack_wait_s
        self._consumers: dict[str, Consumer[Sequence[Any]]] = {}

    def durable_name(self, kind: str) -> str:
        return f"{self._durable_prefix}{kind}"

    async def start(self) -> None:
        for target in self._targets:
            durable = self.durable_name(target.kind)
            subscription = await self._bus.subscribe(
                target.subject, durable, ack_wait=self._ack_wait_s
            )
            consumer = Consumer(
                durable,
                subscription,
                target.decode or partial(decode_batch, target.event_type),
                partial(self._write, target),
                liveness=self._liveness,
                fetch_max=self._fetch_messages,
                fetch_timeout_s=FETCH_TIMEOUT_S,
            )
            consumer.start()
            self._consumers[target.kind] = consumer
        log.info("event=persister_started kinds=%s", ",".join(t.kind for t in self._targets))

    async def drain(self) -> None:
        """Stop after every message already on the bus has been written and acked."""
        consumers, self._consumers = self._consumers, {}
        await asyncio.gather(
            *(
                consumer.drain(partial(self._bus.pending, target.subject, consumer.name))
                for target in self._targets
                if (consumer := consumers.get(target.kind)) is not None
            )
        )
        log.info("event=persister_stopped kinds=%s", ",".join(consumers))

    async def refresh_pending(self) -> None:
        if not self._consumers:  # not consuming in this process: nothing of ours to report
            return
        for target in self._targets:
            pending = await self._bus.pending(target.subject, self.durable_name(target.kind))
            self._metrics.bus_pending.labels(target.subject).set(pending)

    async def _write(self, target: PersistTarget, batch: Batch[Sequence[Any]]) -> None:
        """Write the batch's events at once; raising leaves the batch to the bus to deliver again
        (writes are idempotent)."""
        events = [event for events in batch.values for event in events]
        started = time.perf_counter()
        try:
            await asyncio.to_thread(target.write_batch, events)
        except Exception:
            self._metrics.persist_failures.labels(target.kind).inc()
            raise
        self._metrics.persist_batch_seconds.labels(target.kind).observe(
            time.perf_counter() - started
        )
        self._metrics.events_persisted.labels(target.kind).inc(len(events))
