"""Feeds the windows from the bus: every receipt, submit result, supplier log and probe result."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from controlplane.bus import PROBE_RESULTS, RECEIPTS, SUBMITTED, SUPPLIER_LOGS, Bus, Subscription
from controlplane.contracts import ProbeResult, Receipt, SubmitResult, SupplierLog, decode_batch
from controlplane.engine.windows import WindowStore

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

    def __init__(self, bus: Bus, store: WindowStore, *, durable_prefix: str = "windows-") -> None:
        self._bus = bus
        self._store = store
        self._durable_prefix = durable_prefix
        self._tasks: list[asyncio.Task[None]] = []
        self.events_fed = 0

    async def start(self) -> None:
        for source, (subject, event_type) in SOURCE_SUBJECTS.items():
            subscription = await self._bus.subscribe(
                subject, f"{self._durable_prefix}{source}", ack_wait=30.0
            )
            self._tasks.append(
                asyncio.create_task(self._run(source, event_type, subscription), name=source)
            )
        log.info("window feeder started sources=%s", ",".join(SOURCE_SUBJECTS))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _run(self, source: str, event_type: type[Any], subscription: Subscription) -> None:
        try:
            while True:
                deliveries = await subscription.fetch(FETCH_MESSAGES, FETCH_TIMEOUT_S)
                for delivery in deliveries:
                    try:
                        events = decode_batch(event_type, delivery.data)
                    except Exception:  # a payload that fits no contract: skip it, loudly
                        log.exception("window feeder skipped a bad payload source=%s", source)
                    else:
                        self._store.add_batch(source, events)
                        self.events_fed += len(events)
                    await delivery.ack()
        finally:
            await subscription.close()
