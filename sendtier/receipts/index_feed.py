"""Feeds the correlation index from `sms.submitted`, on the gateway's own durable."""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import msgspec

from controlplane.bus import SUBMITTED, Bus, Subscription
from controlplane.contracts import SubmitResult, decode_batch
from sendtier.receipts.correlation import CorrelationIndex

log = logging.getLogger(__name__)

FETCH_MESSAGES: Final = 500
FETCH_TIMEOUT_S: Final = 0.25


class SubmittedFeed:
    """Reads SubmitResult batches into the index and acks them: the index is only a cache."""

    def __init__(self, bus: Bus, index: CorrelationIndex, durable: str, ack_wait_s: float) -> None:
        self._bus = bus
        self._index = index
        self._durable = durable
        self._ack_wait_s = ack_wait_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.indexed = 0

    async def start(self) -> None:
        subscription = await self._bus.subscribe(
            SUBMITTED, self._durable, ack_wait=self._ack_wait_s
        )
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(subscription), name="receipts-index")
        log.info("receipts.index_feed started durable=%s", self._durable)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self, subscription: Subscription) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    await self._fetch_once(subscription)
                except Exception:
                    # Misses fall back to the database meanwhile; keep trying.
                    log.exception("receipts.index_feed fetch failed durable=%s", self._durable)
                    await asyncio.sleep(FETCH_TIMEOUT_S)
        finally:
            await subscription.close()

    async def _fetch_once(self, subscription: Subscription) -> None:
        deliveries = await subscription.fetch(FETCH_MESSAGES, FETCH_TIMEOUT_S)
        for delivery in deliveries:
            try:
                results = decode_batch(SubmitResult, delivery.data)
            except msgspec.DecodeError as exc:
                log.error("receipts.index_feed undecodable payload acked error=%s", exc)
            else:
                self.indexed += self._index.remember(results)
        await asyncio.gather(*(delivery.ack() for delivery in deliveries))
