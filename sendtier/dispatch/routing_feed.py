"""Keeps the route book current: tables from `cp.routing`, and a local cache file for restarts.

The control plane publishes each routing table version as one bus message, the RoutingTable
encoded with msgspec msgpack (`msgspec.msgpack.encode(table)`). The newest version wins; older
or repeated versions are ignored. The table in force is written to a JSON file (if configured)
so that a dispatcher restarted while the control plane is down starts from it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

import msgspec

from sendtier.dispatch.routing import RouteBook
from smsplatform.bus import ROUTING, Bus
from smsplatform.bus.consume import Batch, Consumer
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.contracts import RoutingTable

logger = logging.getLogger(__name__)

# A fetch returns as soon as a table arrives; this only bounds how long stop() waits for it.
FETCH_TIMEOUT_S = 0.5
FETCH_MESSAGES = 16

_msgpack_decoder = msgspec.msgpack.Decoder(RoutingTable)
_json_decoder = msgspec.json.Decoder(RoutingTable)


def encode_routing_table(table: RoutingTable) -> bytes:
    """The `cp.routing` payload for one table version."""
    return msgspec.msgpack.encode(table)


def load_cached_table(path: str) -> RoutingTable | None:
    """The table last written to `path`, or None if there is none or it cannot be read."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        logger.warning("event=routing_cache_unreadable path=%s error=%r", path, exc)
        return None
    try:
        return _json_decoder.decode(data)
    except msgspec.MsgspecError as exc:
        logger.warning("event=routing_cache_invalid path=%s error=%s", path, exc)
        return None


def write_cached_table(path: str, table: RoutingTable) -> None:
    """Replace the cache atomically: a crash mid-write leaves the previous table readable."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_bytes(msgspec.json.encode(table))
    os.replace(temporary, target)


class RoutingFeed:
    """Applies routing tables from the bus to a RouteBook as they arrive."""

    def __init__(
        self,
        bus: Bus,
        route_book: RouteBook,
        *,
        durable: str,
        cache_path: str | None,
        on_applied: Callable[[RoutingTable], None],
        liveness: LivenessRegistry,
    ) -> None:
        self._bus = bus
        self._route_book = route_book
        self._durable = durable
        self._cache_path = cache_path
        self._on_applied = on_applied
        self._liveness = liveness
        self._consumer: Consumer[RoutingTable] | None = None

    def load_cache(self) -> None:
        """Start from the cached table when it is newer than the one in force."""
        if self._cache_path is None:
            return
        table = load_cached_table(self._cache_path)
        if table is not None and self._route_book.apply(table):
            logger.info(
                "event=routing_table_applied source=cache version=%d path=%s",
                table.version,
                self._cache_path,
            )
            self._on_applied(table)

    async def start(self) -> None:
        self._consumer = Consumer(
            self._durable,
            await self._bus.subscribe(ROUTING, self._durable),
            _msgpack_decoder.decode,
            self._apply_newest,
            liveness=self._liveness,
            fetch_max=FETCH_MESSAGES,
            fetch_timeout_s=FETCH_TIMEOUT_S,
        )
        self._consumer.start()

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    async def _apply_newest(self, batch: Batch[RoutingTable]) -> None:
        # Only the newest of a batch matters: each table is a whole version.
        await self._apply(max(batch.values, key=lambda table: table.version))

    async def _apply(self, table: RoutingTable) -> None:
        previous = self._route_book.version
        if not self._route_book.apply(table):
            logger.info(
                "event=routing_table_ignored version=%d in_force=%d", table.version, previous
            )
            return
        logger.info(
            "event=routing_table_applied source=bus version=%d previous=%d by=%s reason=%r",
            table.version,
            previous,
            table.changed_by,
            table.reason,
        )
        self._on_applied(table)
        if self._cache_path is not None:
            try:
                await asyncio.to_thread(write_cached_table, self._cache_path, table)
            except OSError as exc:
                # The table is in force regardless; only a restart would miss it.
                logger.error(
                    "event=routing_cache_write_failed path=%s error=%r", self._cache_path, exc
                )
