"""Pure edits of a routing table: the initial version, one entry's state, a carrier's own route.

Tables are immutable contracts; every function here returns new routes and never mutates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from controlplane.actions.cutover_settings import InitialRoute
from smsplatform.contracts import (
    MessageClass,
    Route,
    RouteEntry,
    RoutingTable,
    SupplierState,
    active_routes,
)

# A route for this carrier applies to every carrier without a route of its own (as in dispatch).
ANY_CARRIER: Final = "*"
# States that keep a supplier out of new traffic.
OUT_OF_TRAFFIC: Final = frozenset({"draining", "ejected"})

RouteKey = tuple[str, MessageClass]


def initial_table(routes: Sequence[InitialRoute], at: datetime) -> RoutingTable:
    """Version 1: the configured routes, every supplier active at its weight."""
    return RoutingTable(
        version=1,
        at=at,
        routes=active_routes((r.carrier, r.message_class, r.suppliers) for r in routes),
        changed_by="settings",
        reason="initial routes from the control plane's configuration",
    )


def route_key(route: Route) -> RouteKey:
    return (route.carrier, route.message_class)


def find_route(table: RoutingTable, carrier: str, message_class: MessageClass) -> Route | None:
    """The route that serves (carrier, class): the carrier's own, else the `*` one."""
    exact = wildcard = None
    for route in table.routes:
        if route.message_class != message_class:
            continue
        if route.carrier == carrier and exact is None:
            exact = route
        elif route.carrier == ANY_CARRIER and wildcard is None:
            wildcard = route
    return exact or wildcard


def routes_for_carrier(table: RoutingTable, carrier: str) -> list[Route]:
    """The routes that serve `carrier`, one per message class, as that carrier's own routes.

    A class served only by the `*` route gets a copy of it for this carrier, so an edit for one
    carrier leaves every other carrier's traffic alone.
    """
    classes: dict[MessageClass, None] = {r.message_class: None for r in table.routes}
    found = [find_route(table, carrier, cls) for cls in classes]
    return [
        Route(carrier=carrier, message_class=r.message_class, suppliers=list(r.suppliers))
        for r in found
        if r is not None
    ]


def replace_routes(table: RoutingTable, changed: Iterable[Route]) -> list[Route]:
    """The table's routes with `changed` ones swapped in (or added, for a carrier's own copy)."""
    by_key = {route_key(route): route for route in changed}
    routes = [by_key.pop(route_key(route), route) for route in table.routes]
    return routes + list(by_key.values())


def with_entry(route: Route, supplier: str, state: SupplierState, weight: float) -> Route:
    """The route with `supplier`'s entry set to (state, weight); other entries unchanged."""
    entries = [
        RouteEntry(supplier=supplier, state=state, weight=weight)
        if entry.supplier == supplier
        else entry
        for entry in route.suppliers
    ]
    return Route(carrier=route.carrier, message_class=route.message_class, suppliers=entries)


def entry_of(route: Route, supplier: str) -> RouteEntry | None:
    return next((entry for entry in route.suppliers if entry.supplier == supplier), None)


def in_traffic(route: Route) -> list[RouteEntry]:
    """Entries dispatch may still send to (first choices, canaries, and standbys for retries)."""
    return [entry for entry in route.suppliers if entry.state not in OUT_OF_TRAFFIC]


def serving(route: Route) -> list[RouteEntry]:
    """Entries that may take new traffic as a first choice (active with weight, or canaries)."""
    return [
        entry
        for entry in route.suppliers
        if (entry.state in ("active", "pinned") and entry.weight > 0) or entry.state == "probing"
    ]


def is_pinned(route: Route) -> bool:
    return any(entry.state == "pinned" for entry in route.suppliers)


@dataclass(frozen=True)
class HomeWeights:
    """Each supplier's configured weight per route: what a restored supplier goes back to."""

    weights: dict[tuple[str, str, str], float]

    @classmethod
    def of(cls, routes: Sequence[InitialRoute]) -> HomeWeights:
        return cls(
            {
                (route.carrier, route.message_class, supplier): weight
                for route in routes
                for supplier, weight in route.suppliers.items()
            }
        )

    def weight(self, route: Route, supplier: str) -> float:
        for carrier in (route.carrier, ANY_CARRIER):
            found = self.weights.get((carrier, route.message_class, supplier))
            if found is not None:
                return found
        # Not configured (added by hand): as much as the route's average active supplier.
        active = [e.weight for e in route.suppliers if e.state == "active" and e.weight > 0]
        return sum(active) / len(active) if active else 1.0
