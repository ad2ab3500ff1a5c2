"""Keeps the routing table: the version in force, each new version stored then published.

At start: the newest stored version is published again (a dispatcher that missed it catches
up); when none is stored, version 1 is built from the configured routes, stored and published.
With no stored version and no configured route nothing is published, so dispatchers keep their
own default routes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from controlplane.actions.cutover_settings import InitialRoute
from controlplane.actions.route_edits import initial_table
from controlplane.actions.routing_store import RoutingStore, encode_table
from smsplatform.bus import ROUTING, Bus
from smsplatform.clock import Clock
from smsplatform.contracts import Route, RoutingTable

log = logging.getLogger(__name__)


class RoutingKeeper:
    """The routing table in force; `commit` makes, stores and publishes the next version."""

    def __init__(
        self, store: RoutingStore, bus: Bus, initial_routes: Sequence[InitialRoute], clock: Clock
    ) -> None:
        self._store = store
        self._bus = bus
        self._initial_routes = initial_routes
        self._clock = clock
        self._lock = asyncio.Lock()
        self.table: RoutingTable | None = None

    async def start(self) -> RoutingTable | None:
        async with self._lock:
            latest = await asyncio.to_thread(self._store.latest)
            if latest is None and self._initial_routes:
                first = initial_table(self._initial_routes, self._clock.now())
                evidence = {"source": "settings", "routes": len(first.routes)}
                if not await asyncio.to_thread(self._store.add, first, evidence):
                    log.info("event=routing_initial_taken version=1: another replica stored it")
                latest = await asyncio.to_thread(self._store.latest)
            if latest is None:
                log.warning("event=routing_not_owned: no stored version and no configured route")
                return None
            self.table = latest.table
            await self._bus.publish(ROUTING, encode_table(latest.table))
            log.info(
                "event=routing_published version=%d routes=%d by=%s",
                latest.table.version,
                len(latest.table.routes),
                latest.table.changed_by,
            )
            return self.table

    async def commit(
        self, routes: list[Route], changed_by: str, reason: str, evidence: Mapping[str, Any]
    ) -> RoutingTable | None:
        """Store and publish the next version; None when another writer took its number first
        (the table in force is then the newest stored one: decide again from it)."""
        async with self._lock:
            current = self.table
            if current is None:
                raise RuntimeError("no routing table is owned here (no route configured)")
            table = RoutingTable(
                version=current.version + 1,
                at=self._clock.now(),
                routes=routes,
                changed_by=changed_by,
                reason=reason,
            )
            if not await asyncio.to_thread(self._store.add, table, evidence):
                latest = await asyncio.to_thread(self._store.latest)
                self.table = latest.table if latest is not None else current
                log.warning(
                    "event=routing_version_conflict wanted=%d newest=%d",
                    table.version,
                    self.table.version,
                )
                return None
            await self._bus.publish(ROUTING, encode_table(table))
            self.table = table
            log.info(
                "event=routing_published version=%d by=%s reason=%r",
                table.version,
                changed_by,
                reason,
            )
            return table
