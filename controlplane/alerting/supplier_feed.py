"""Feeds the alert path's SupplierHealth from the bus: tables on `cp.routing`, `sms.submitted`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

import msgspec

from controlplane.alerting.supplier_health import SubmitSeen, SupplierHealth
from controlplane.bus import ROUTING, SUBMITTED, Bus, Subscription
from controlplane.contracts import RoutingTable

log = logging.getLogger(__name__)

FETCH_BATCH: Final = 64
# A fetch returns as soon as something arrives; this only bounds how long stop() waits.
FETCH_TIMEOUT_S: Final = 0.5
RETRY_S: Final = 0.5

_tables = msgspec.msgpack.Decoder(RoutingTable)
# A submits payload is a msgpack array of SubmitResult maps; only three fields are decoded.
_submits = msgspec.msgpack.Decoder(list[SubmitSeen])


class SupplierHealthFeed:
    """Two durable consumers (one per replica) that keep a SupplierHealth current."""

    def __init__(self, bus: Bus, health: SupplierHealth, *, durable: str) -> None:
        self._bus = bus
        self._health = health
        self._durable = durable
        self._subscriptions: list[Subscription] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for subject, apply in ((ROUTING, self._apply_table), (SUBMITTED, self._observe)):
            subscription = await self._bus.subscribe(subject, self._durable)
            self._subscriptions.append(subscription)
            self._tasks.append(
                asyncio.create_task(
                    self._run(subject, subscription, apply), name=f"health-{subject}"
                )
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for subscription in self._subscriptions:
            await subscription.close()
        self._tasks, self._subscriptions = [], []

    async def _run(
        self, subject: str, subscription: Subscription, apply: Callable[[bytes], None]
    ) -> None:
        while True:
            try:
                deliveries = await subscription.fetch(FETCH_BATCH, timeout=FETCH_TIMEOUT_S)
            except Exception as exc:  # the bus may be reconnecting: keep what we know, retry
                log.warning("supplier_health.fetch_failed subject=%s error=%r", subject, exc)
                await asyncio.sleep(RETRY_S)
                continue
            for delivery in deliveries:
                try:
                    apply(delivery.data)
                except msgspec.MsgspecError as exc:
                    # Unreadable now is unreadable on redelivery: drop it, say so.
                    log.error("supplier_health.invalid_payload subject=%s error=%s", subject, exc)
                await delivery.ack()

    def _apply_table(self, payload: bytes) -> None:
        table = _tables.decode(payload)
        if self._health.apply(table):
            log.info(
                "supplier_health.table version=%d by=%s reason=%r",
                table.version,
                table.changed_by,
                table.reason,
            )

    def _observe(self, payload: bytes) -> None:
        self._health.observe(_submits.decode(payload))
