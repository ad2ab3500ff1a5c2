"""Feeds the windows from the bus: every receipt, submit result, supplier log and probe result."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from controlplane.engine.windows import WindowStore
from smsplatform.bus import PROBE_RESULTS, RECEIPTS, SUBMITTED, SUPPLIER_LOGS, Bus
from smsplatform.bus.consume import Batch, Consumer
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.contracts import ProbeResult, Receipt, SubmitResult, SupplierLog, decode_batch

log = logging.getLogger(__name__)

# Window source name → (bus subject, event type).
SOURCE_SUBJECTS: dict[str, tuple[str, type[Any]]] = {
    "receipts": (RECEIPTS, Receipt),
    "submits": (SUBMITTED, SubmitResult),
    "supplier_logs": (SUPPLIER_LOGS, SupplierLog),
    "probes": (PROBE_RESULTS, ProbeResult),
}
FETCH_MESSAGES = 64
FETCH_TIMEOUT_S = 0.2


class WindowFeeder:
    """One durable consumer per source; windows see every event, stored or shed."""

    def __init__(
        self,
        bus: Bus,
        store: WindowStore,
        *,
        liveness: LivenessRegistry,
        durable_prefix: str = "windows-",
    ) -> None:
        self._bus = bus
        self._store = store
        self._liveness = liveness
        self._durable_prefix = durable_prefix
        self._consumers: list[Consumer[Sequence[Any]]] = []
        self.events_fed = 0

    async def start(self) -> None:
        for source, (subject, event_type) in SOURCE_SUBJECTS.items():
            durable = f"{self._durable_prefix}{source}"
            subscription = await self._bus.subscribe(subject, durable, ack_wait=30.0)
            consumer = Consumer(
                durable,
                subscription,
                partial(decode_batch, event_type),
                partial(self._feed, source),
                liveness=self._liveness,
                fetch_max=FETCH_MESSAGES,
                fetch_timeout_s=FETCH_TIMEOUT_S,
            )
            consumer.start()
            self._consumers.append(consumer)
        log.info("event=window_feeder_started sources=%s", ",".join(SOURCE_SUBJECTS))

    async def stop(self) -> None:
        consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            await consumer.stop()

    async def _feed(self, source: str, batch: Batch[Sequence[Any]]) -> None:
        for events in batch.values:
            self._store.add_batch(source, events)
            self.events_fed += len(events)
