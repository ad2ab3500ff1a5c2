"""Feeds the correlation index from `sms.submitted`, on the gateway's own durable."""

from __future__ import annotations

import logging
from functools import partial
from typing import Final

from sendtier.receipts.correlation import CorrelationIndex
from smsplatform.bus import SUBMITTED, Bus
from smsplatform.bus.consume import Batch, Consumer
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.contracts import SubmitResult, decode_batch

log = logging.getLogger(__name__)

FETCH_MESSAGES: Final = 500
FETCH_TIMEOUT_S: Final = 0.25


class SubmittedFeed:
    """Reads SubmitResult batches into the index and acks them: the index is only a cache."""

    def __init__(
        self,
        bus: Bus,
        index: CorrelationIndex,
        durable: str,
        ack_wait_s: float,
        liveness: LivenessRegistry,
    ) -> None:
        self._bus = bus
        self._index = index
        self._durable = durable
        self._ack_wait_s = ack_wait_s
        self._liveness = liveness
        self._consumer: Consumer[list[SubmitResult]] | None = None
        self.indexed = 0

    async def start(self) -> None:
        subscription = await self._bus.subscribe(
            SUBMITTED, self._durable, ack_wait=self._ack_wait_s
        )
        self._consumer = Consumer(
            self._durable,
            subscription,
            partial(decode_batch, SubmitResult),
            self._remember,
            liveness=self._liveness,
            fetch_max=FETCH_MESSAGES,
            fetch_timeout_s=FETCH_TIMEOUT_S,
        )
        self._consumer.start()
        log.info("receipts.index_feed started durable=%s", self._durable)

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    async def _remember(self, batch: Batch[list[SubmitResult]]) -> None:
        # Misses fall back to the database meanwhile: the index only saves those lookups.
        for results in batch.values:
            self.indexed += self._index.remember(results)
