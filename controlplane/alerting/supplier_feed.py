"""Feeds the alert path's SupplierHealth from the bus: tables on `cp.routing`, `sms.submitted`."""

from __future__ import annotations

import logging
from typing import Final

import msgspec

from controlplane.alerting.supplier_health import SubmitSeen, SupplierHealth
from smsplatform.bus import ROUTING, SUBMITTED, Bus
from smsplatform.bus.consume import Batch, Consumer
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.contracts import RoutingTable

log = logging.getLogger(__name__)

FETCH_BATCH: Final = 64
# A fetch returns as soon as something arrives; this only bounds how long stop() waits.
FETCH_TIMEOUT_S: Final = 0.5

_tables = msgspec.msgpack.Decoder(RoutingTable)
# A submits payload is a msgpack array of SubmitResult maps; only three fields are decoded.
_submits = msgspec.msgpack.Decoder(list[SubmitSeen])


class SupplierHealthFeed:
    """Two durable consumers (one per replica) that keep a SupplierHealth current."""

    def __init__(
        self, bus: Bus, health: SupplierHealth, *, durable: str, liveness: LivenessRegistry
    ) -> None:
        self._bus = bus
        self._health = health
        self._durable = durable
        self._liveness = liveness
        self._tables: Consumer[RoutingTable] | None = None
        self._submits: Consumer[list[SubmitSeen]] | None = None

    async def start(self) -> None:
        self._tables = Consumer(
            f"{self._durable}-routing",
            await self._bus.subscribe(ROUTING, self._durable),
            _tables.decode,
            self._apply_tables,
            liveness=self._liveness,
            fetch_max=FETCH_BATCH,
            fetch_timeout_s=FETCH_TIMEOUT_S,
        )
        self._submits = Consumer(
            f"{self._durable}-submitted",
            await self._bus.subscribe(SUBMITTED, self._durable),
            _submits.decode,
            self._observe,
            liveness=self._liveness,
            fetch_max=FETCH_BATCH,
            fetch_timeout_s=FETCH_TIMEOUT_S,
        )
        self._tables.start()
        self._submits.start()

    async def stop(self) -> None:
        tables, submits, self._tables, self._submits = self._tables, self._submits, None, None
        for consumer in (tables, submits):
            if consumer is not None:
                await consumer.stop()

    async def _apply_tables(self, batch: Batch[RoutingTable]) -> None:
        for table in batch.values:
            if self._health.apply(table):
                log.info(
                    "supplier_health.table version=%d by=%s reason=%r",
                    table.version,
                    table.changed_by,
                    table.reason,
                )

    async def _observe(self, batch: Batch[list[SubmitSeen]]) -> None:
        for submits in batch.values:
            self._health.observe(submits)
