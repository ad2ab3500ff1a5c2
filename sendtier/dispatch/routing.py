"""The route book: which suppliers may carry a message, in the order to try them (pure logic).

A route lists suppliers for one (carrier, message class) with a state and a weight:
- `active` suppliers share the traffic by weight; an active supplier with weight 0 is a standby,
  never a first choice but still a fallback for retries;
- `probing` suppliers get a canary share: their weight is the fraction of the route's traffic
  they receive as first choice (0.05 = 5 %), the active suppliers share the rest; with no active
  supplier left the probing ones carry everything, in proportion to their shares;
- `pinned` means only that supplier (no fallback): an operator's cut-over to one supplier;
- `draining` and `ejected` suppliers are never chosen for new messages.
Fallbacks after the first choice are the other active suppliers by weight, then the probing ones.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sendtier.settings import RouteSettings
from smsplatform.contracts import MessageClass, RouteEntry, RoutingTable, active_routes

# A route for this carrier applies to every carrier that has no route of its own.
ANY_CARRIER = "*"
# States that keep a supplier out of new traffic.
_EXCLUDED = frozenset({"draining", "ejected"})


def table_from_settings(routes: Sequence[RouteSettings], at: datetime) -> RoutingTable:
    """The configured default routes as a routing table of version 0 (every supplier active)."""
    return RoutingTable(
        version=0,
        at=at,
        routes=active_routes((r.carrier, r.message_class, r.suppliers) for r in routes),
        changed_by="settings",
        reason="default routes from the send tier's configuration",
    )


@dataclass(frozen=True)
class _CompiledRoute:
    """One route, prepared at table load so that picking is a bisect and a list copy."""

    pinned: tuple[str, ...]
    # First-choice candidates and the running sum of their probabilities (last is the total).
    first_choices: tuple[str, ...]
    cumulative: tuple[float, ...]
    # Every supplier that may carry a message, in fallback order.
    fallback_order: tuple[str, ...]
    excluded: frozenset[str]

    @classmethod
    def compile(cls, entries: Iterable[RouteEntry]) -> _CompiledRoute:
        seen: set[str] = set()
        unique: list[RouteEntry] = []
        for entry in entries:
            # A supplier listed twice keeps its first entry: the table is read top-down.
            if entry.supplier not in seen:
                seen.add(entry.supplier)
                unique.append(entry)
        pinned = tuple(e.supplier for e in unique if e.state == "pinned")
        active = sorted((e for e in unique if e.state == "active"), key=lambda e: -e.weight)
        probing = sorted((e for e in unique if e.state == "probing"), key=lambda e: -e.weight)
        weights = _first_choice_weights(active, probing)
        cumulative: list[float] = []
        total = 0.0
        for _, weight in weights:
            total += weight
            cumulative.append(total)
        return cls(
            pinned=pinned,
            first_choices=tuple(name for name, _ in weights),
            cumulative=tuple(cumulative),
            fallback_order=tuple(e.supplier for e in (*active, *probing)),
            excluded=frozenset(e.supplier for e in unique if e.state in _EXCLUDED),
        )


def _first_choice_weights(
    active: Sequence[RouteEntry], probing: Sequence[RouteEntry]
) -> list[tuple[str, float]]:
    """Each supplier's probability of being the first choice (zero-probability ones left out)."""
    canaries = [(e.supplier, e.weight) for e in probing if e.weight > 0]
    shares = [(e.supplier, e.weight) for e in active if e.weight > 0]
    active_total = sum(weight for _, weight in shares)
    if active_total == 0:
        return canaries  # nothing active: the canaries carry everything, by their shares
    canary_total = sum(weight for _, weight in canaries)
    if canary_total >= 1:
        # Shares that add up to the whole route leave nothing for the active suppliers.
        return canaries
    rest = 1.0 - canary_total
    return canaries + [(name, rest * weight / active_total) for name, weight in shares]


class RouteBook:
    """The routing table in force and the supplier choice it implies for each message."""

    def __init__(self, table: RoutingTable, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._table = table
        self._routes = _compile(table)

    @property
    def table(self) -> RoutingTable:
        return self._table

    @property
    def version(self) -> int:
        return self._table.version

    def apply(self, table: RoutingTable) -> bool:
        """Use `table` if it is newer than the one in force; False (and no change) otherwise."""
        if table.version <= self._table.version:
            return False
        self._routes = _compile(table)
        self._table = table
        return True

    def candidates(
        self, carrier: str, message_class: MessageClass, pinned_supplier: str | None = None
    ) -> list[str]:
        """Suppliers to try for a message, first choice first; [] when none may carry it.

        A supplier the message itself asks for (`pinned_supplier`) is honoured like a pin, unless
        the route keeps it out of traffic (draining or ejected).
        """
        route = self._routes.get((carrier, message_class)) or self._routes.get(
            (ANY_CARRIER, message_class)
        )
        if pinned_supplier is not None:
            if route is not None and pinned_supplier in route.excluded:
                return []
            return [pinned_supplier]
        if route is None:
            return []
        if route.pinned:
            return list(route.pinned)
        if not route.first_choices:
            return list(route.fallback_order)
        total = route.cumulative[-1]
        index = bisect.bisect_right(route.cumulative, self._rng.random() * total)
        first = route.first_choices[min(index, len(route.first_choices) - 1)]
        return [first, *(name for name in route.fallback_order if name != first)]


def _compile(table: RoutingTable) -> dict[tuple[str, str], _CompiledRoute]:
    compiled: dict[tuple[str, str], _CompiledRoute] = {}
    for route in table.routes:
        key = (route.carrier, route.message_class)
        # A route listed twice keeps its first occurrence, like a supplier listed twice.
        if key not in compiled:
            compiled[key] = _CompiledRoute.compile(route.suppliers)
    return compiled
