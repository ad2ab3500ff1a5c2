"""Which SMS suppliers alert SMS may use now, best first: the newest routing table and submits.

The alert path must not depend on the send tier choosing well while the platform is failing, so
it ranks suppliers itself: a supplier the routing table keeps out of traffic on a carrier
(`ejected`, `draining`) is never used there; the rest rank by state (`pinned`, `active`,
`probing`), then by how often their recent submits were accepted, then by weight.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import msgspec

from smsplatform.clock import Clock
from smsplatform.contracts import MessageClass, RouteEntry, RoutingTable, UtcTime

ANY_CARRIER: Final = "*"  # the send tier's route for every carrier without one of its own
ALERT_CLASS: Final[MessageClass] = "notification"
EXCLUDED_STATES: Final = frozenset({"draining", "ejected"})
STATE_RANK: Final = {"pinned": 0, "active": 1, "probing": 2}
DEFAULT_WINDOW_S: Final = 300.0


class SubmitSeen(msgspec.Struct, frozen=True):
    """The three fields of an `sms.submitted` SubmitResult the ranking needs (others skipped)."""

    supplier: str
    accepted: bool
    at: UtcTime


@dataclass
class _Second:
    at: int  # unix second
    accepted: int = 0
    total: int = 0


class SupplierHealth:
    """Kept current by a feed (`apply`, `observe`); asked by the SMS notifier (`ranked`)."""

    def __init__(self, clock: Clock, window_s: float = DEFAULT_WINDOW_S) -> None:
        self._clock = clock
        self._window_s = window_s
        self._table: RoutingTable | None = None
        self._routes: dict[str, list[RouteEntry]] = {}
        self._seconds_by_supplier: dict[str, deque[_Second]] = {}

    @property
    def version(self) -> int | None:
        """The routing table version in force; None until one arrived."""
        return None if self._table is None else self._table.version

    def apply(self, table: RoutingTable) -> bool:
        """Use `table` when it is newer than the one in force; False (no change) otherwise."""
        if self._table is not None and table.version <= self._table.version:
            return False
        routes: dict[str, list[RouteEntry]] = {}
        for route in table.routes:
            # The first route of a (carrier, class) wins, as the send tier's route book reads it.
            if route.message_class == ALERT_CLASS:
                routes.setdefault(route.carrier, list(route.suppliers))
        self._table, self._routes = table, routes
        return True

    def observe(self, submits: Iterable[SubmitSeen]) -> None:
        """Count submit outcomes into per-second buckets; ones older than the window are ignored."""
        oldest = self._clock.now().timestamp() - self._window_s
        for submit in submits:
            second = int(submit.at.timestamp())
            if second < oldest:
                continue
            buckets = self._seconds_by_supplier.setdefault(submit.supplier, deque())
            # Results arrive nearly in time order; a late one joins the newest bucket.
            if not buckets or second > buckets[-1].at:
                buckets.append(_Second(second))
            bucket = buckets[-1]
            bucket.total += 1
            bucket.accepted += submit.accepted

    def success(self, supplier: str) -> tuple[int, int]:
        """(accepted, total) submits of `supplier` within the window."""
        buckets = self._seconds_by_supplier.get(supplier)
        if not buckets:
            return 0, 0
        oldest = self._clock.now().timestamp() - self._window_s
        while buckets and buckets[0].at < oldest:
            buckets.popleft()
        return sum(b.accepted for b in buckets), sum(b.total for b in buckets)

    def excluded(self, carrier: str) -> frozenset[str]:
        """Suppliers the routing table keeps out of traffic on `carrier`."""
        entries = self._entries(carrier)
        return frozenset(e.supplier for e in entries if e.state in EXCLUDED_STATES)

    def ranked(self, carrier: str) -> list[str]:
        """Usable suppliers for alert SMS on `carrier`, best first; [] while nothing is known."""
        usable: dict[str, RouteEntry] = {}
        for entry in self._entries(carrier):
            usable.setdefault(entry.supplier, entry)  # a supplier listed twice keeps its first
        return sorted(
            (name for name, entry in usable.items() if entry.state not in EXCLUDED_STATES),
            key=lambda name: self._rank(usable[name]),
        )

    def _entries(self, carrier: str) -> list[RouteEntry]:
        return self._routes.get(carrier) or self._routes.get(ANY_CARRIER) or []

    def _rank(self, entry: RouteEntry) -> tuple[int, float, float]:
        accepted, total = self.success(entry.supplier)
        # Laplace's rule: no submits yet ranks as an even chance, below a supplier seen working.
        score = (accepted + 1) / (total + 2)
        return STATE_RANK.get(entry.state, len(STATE_RANK)), -score, -entry.weight
