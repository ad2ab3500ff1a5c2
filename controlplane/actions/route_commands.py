"""Operators' route commands, as pure edits of the table in force: pin, unpin, drain, restore.

A pin makes one supplier the only one of a route (no fallback) and takes the route away from
automation until it is unpinned. Drain takes a supplier out of new traffic on the routes named
(every route it is on, by default); restore puts it back at its configured weight, whatever
state automation or an operator left it in. Errors name the field they are about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from controlplane.actions.route_edits import (
    HomeWeights,
    entry_of,
    find_route,
    in_traffic,
    routes_for_carrier,
    with_entry,
)
from smsplatform.contracts import MessageClass, Route, RouteEntry, RoutingTable

Verb = Literal["pin", "unpin", "drain", "restore"]
VERBS: tuple[Verb, ...] = ("pin", "unpin", "drain", "restore")


class RouteCommandError(ValueError):
    """A command that cannot apply; `status` is its HTTP status, `field` what it is about."""

    def __init__(self, message: str, field: str, status: int = 404) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


@dataclass(frozen=True)
class RouteCommand:
    verb: Verb
    supplier: str
    carrier: str | None = None  # None: every carrier (drain, restore)
    message_class: MessageClass | None = None  # None: every class (drain, restore)
    reason: str = ""

    def describe(self) -> str:
        where = " ".join(
            part
            for part in (
                f"on carrier {self.carrier}" if self.carrier else "",
                f"for class {self.message_class}" if self.message_class else "",
            )
            if part
        )
        return f"{self.verb} {self.supplier} {where}".strip()


def apply_command(table: RoutingTable, command: RouteCommand, home: HomeWeights) -> list[Route]:
    """The routes the command changes, as they are after it; RouteCommandError if it cannot."""
    if command.verb in ("pin", "unpin") and (command.carrier is None or not command.message_class):
        field = "carrier" if command.carrier is None else "message_class"
        raise RouteCommandError(f"{command.verb} needs a carrier and a message class", field, 422)
    targets = _routes(table, command)
    changed = []
    for route in targets:
        entry = entry_of(route, command.supplier)
        if entry is None:
            continue
        if command.verb == "pin":
            # One pin per route: a supplier pinned before goes back to sharing by weight.
            edited = Route(
                carrier=route.carrier,
                message_class=route.message_class,
                suppliers=[
                    RouteEntry(supplier=e.supplier, state="active", weight=e.weight)
                    if e.state == "pinned"
                    else e
                    for e in route.suppliers
                ],
            )
            changed.append(with_entry(edited, command.supplier, "pinned", entry.weight))
        elif command.verb == "unpin":
            if entry.state != "pinned":
                raise RouteCommandError(
                    f"{command.supplier} is not pinned on this route (it is {entry.state})",
                    "supplier",
                    409,
                )
            changed.append(with_entry(route, command.supplier, "active", entry.weight))
        elif command.verb == "drain":
            drained = with_entry(route, command.supplier, "draining", entry.weight)
            if not in_traffic(drained):
                raise RouteCommandError(
                    f"draining {command.supplier} would leave carrier {route.carrier} class "
                    f"{route.message_class} with no supplier",
                    "supplier",
                    409,
                )
            changed.append(drained)
        else:
            changed.append(
                with_entry(route, command.supplier, "active", home.weight(route, command.supplier))
            )
    if not changed:
        raise RouteCommandError(
            f"{command.supplier} is on no route matching: {command.describe()}",
            "supplier",
        )
    return changed


def _routes(table: RoutingTable, command: RouteCommand) -> list[Route]:
    if command.carrier is not None and command.message_class is not None:
        route = find_route(table, command.carrier, command.message_class)
        if route is None:
            raise RouteCommandError(
                f"no route for carrier {command.carrier} class {command.message_class}", "carrier"
            )
        # A `*` route is copied for this carrier: the command touches that carrier only.
        return [
            Route(
                carrier=command.carrier,
                message_class=route.message_class,
                suppliers=list(route.suppliers),
            )
        ]
    if command.carrier is not None:
        routes = routes_for_carrier(table, command.carrier)
        if not routes:
            raise RouteCommandError(f"no route for carrier {command.carrier}", "carrier")
        return routes
    return [
        route
        for route in table.routes
        if command.message_class is None or route.message_class == command.message_class
    ]
