"""Cut-over policy: takes unfit suppliers out of routes, within the safety rules (pure logic).

A round looks at every route that serves a carrier and, for each serving supplier the health
model (or a firing rule) finds unfit, ejects it unless that would:
- leave no healthy supplier to take its traffic (never eject the last one, never shift traffic
  onto a supplier that is itself unfit or out of balance), or
- put more than `max_ejected_share` of the route's suppliers out of traffic at once;
in both cases the route is left as it is ("fail static") and a FailStatic is reported, which the
service turns into an alert. A route changes at most once per `min_dwell_s` (no flapping), and a
route with a pinned supplier belongs to the operator: automation leaves it alone (and
only reports a pinned supplier that is unfit, as a FailStatic).
Failback (controlplane/actions/failback.py) brings ejected suppliers back by canary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from controlplane.actions.cutover_settings import CutoverSettings
from controlplane.actions.decisions import Cause, Ejection, FailStatic, Round, RouteDecision
from controlplane.actions.failback import Failback
from controlplane.actions.findings import EVERY_CARRIER
from controlplane.actions.health import HealthModel
from controlplane.actions.route_edits import (
    OUT_OF_TRAFFIC,
    HomeWeights,
    RouteKey,
    is_pinned,
    replace_routes,
    route_key,
    routes_for_carrier,
    serving,
    with_entry,
)
from smsplatform.contracts import MessageClass, Route, RoutingTable


@dataclass(frozen=True)
class RuleRequest:
    """A firing rule's `cutover` action: take `supplier` out while the alert fires."""

    supplier: str
    carrier: str | None  # None: every carrier
    message_class: MessageClass | None  # None: every class
    cause: Cause

    def covers(self, route: Route, supplier: str) -> bool:
        return (
            supplier == self.supplier
            and self.carrier in (None, route.carrier)
            and self.message_class in (None, route.message_class)
        )


class CutoverPolicy:
    """Decides route changes from the health model, rule requests and the clock."""

    def __init__(self, settings: CutoverSettings, health: HealthModel, home: HomeWeights) -> None:
        self._settings = settings
        self._health = health
        self._last_change: dict[RouteKey, datetime] = {}
        self._ejections: dict[tuple[str, str, str], Ejection] = {}
        self._requests: dict[str, RuleRequest] = {}  # alert fingerprint → its request
        self._failback = Failback(settings.failback, health, home, self._ejections)

    # --- what the service tells the policy -----------------------------------------------------
    def adopt(self, table: RoutingTable, now: datetime) -> None:
        """Align the records with a table made elsewhere (start-up, an operator's change)."""
        present: set[tuple[str, str, str]] = set()  # (carrier, message class, supplier)
        for route in table.routes:
            for entry in route.suppliers:
                key = (route.carrier, route.message_class, entry.supplier)
                if entry.state != "ejected" and entry.state != "probing":
                    continue
                present.add(key)
                record = self._ejections.get(key)
                if record is None:
                    cause = Cause(f"found {entry.state} in version {table.version}", "", {})
                    self._ejections[key] = Ejection(now, cause)
                    self._failback.adopt_step(key, entry, now)
                elif entry.state == "ejected" and record.step != -1:
                    record.step, record.step_started_at = -1, None  # a canary that never went out
                elif entry.state == "probing" and record.step == -1:
                    self._failback.adopt_step(key, entry, now)
        for stale in [k for k in self._ejections if k not in present]:  # restored elsewhere
            del self._ejections[stale]

    def changed(self, routes: Iterable[Route], now: datetime) -> None:
        """Routes that changed in a version just made: their dwell starts now."""
        for route in routes:
            self._last_change[route_key(route)] = now

    def request(self, fingerprint: str, request: RuleRequest) -> None:
        self._requests[fingerprint] = request

    def release(self, fingerprint: str) -> bool:
        """The rule's alert resolved: failback may begin (after the cool-down)."""
        return self._requests.pop(fingerprint, None) is not None

    @property
    def ejections(self) -> dict[tuple[str, str, str], Ejection]:
        return dict(self._ejections)

    # --- the round -----------------------------------------------------------------------------
    def decide(self, table: RoutingTable, now: datetime) -> Round:
        """This moment's changes: canaries judged, unfit suppliers ejected, ejected ones probed."""
        outcome = Round()
        for route in self._routes_in_play(table, now):
            if is_pinned(route):
                self._report_unfit_pins(route, now, outcome)
                continue
            dwell_over = self._dwell_over(route, now)
            current = self._failback.judge_canaries(route, dwell_over, now, outcome)
            current = self._eject_unfit(current, dwell_over, now, outcome)
            held = {
                entry.supplier
                for entry in current.suppliers
                if any(r.covers(current, entry.supplier) for r in self._requests.values())
            }
            self._failback.start_canaries(current, dwell_over, held, now, outcome)
        return outcome

    def _report_unfit_pins(self, route: Route, now: datetime, outcome: Round) -> None:
        """A pin is the operator's to lift; automation only says when the pinned one is unfit."""
        for entry in route.suppliers:
            cause = self.cause_against(route, entry.supplier, now)
            if entry.state == "pinned" and cause is not None:
                outcome.fail_static.append(
                    FailStatic(
                        route.carrier,
                        route.message_class,
                        entry.supplier,
                        f"fail static: {entry.supplier} on carrier {route.carrier} for class "
                        f"{route.message_class} is unfit ({cause.text}) but pinned by an operator",
                        {**cause.evidence, "held_because": "pinned"},
                    )
                )

    def _routes_in_play(self, table: RoutingTable, now: datetime) -> list[Route]:
        """Every route, plus a carrier's own copy of `*` routes where something is wrong."""
        carriers = {f.carrier for f in self._health.findings(now)}
        carriers |= {r.carrier for r in self._requests.values() if r.carrier is not None}
        carriers.discard(EVERY_CARRIER)
        own = {route.carrier for route in table.routes}
        copies = [
            route
            for carrier in sorted(carriers - own)
            for route in routes_for_carrier(table, carrier)
        ]
        return replace_routes(table, copies)

    def _dwell_over(self, route: Route, now: datetime) -> bool:
        last = self._last_change.get(route_key(route))
        return last is None or now - last >= timedelta(seconds=self._settings.safety.min_dwell_s)

    def cause_against(self, route: Route, supplier: str, now: datetime) -> Cause | None:
        """Why `supplier` is unfit for `route` now (health, balance, a firing rule), or None."""
        # A `*` route has no per-carrier health: only a supplier-wide finding reaches it.
        finding = self._health.finding(supplier, route.carrier, now)
        if finding is not None:
            return Cause(finding.describe(), "health-model", finding.evidence())
        for request in self._requests.values():
            if request.covers(route, supplier):
                return request.cause
        return None

    def _eject_unfit(self, route: Route, dwell_over: bool, now: datetime, outcome: Round) -> Route:
        for entry in list(route.suppliers):
            if entry not in serving(route) or entry.state == "probing":
                continue  # standbys carry nothing; canaries are judged by failback
            cause = self.cause_against(route, entry.supplier, now)
            if cause is None:
                continue
            # Active suppliers take the traffic (standbys too: dispatch falls back to them);
            # never a canary, whose 1 % share must not inherit a whole route.
            targets = [
                e.supplier
                for e in route.suppliers
                if e.supplier != entry.supplier
                and e.state == "active"
                and self.cause_against(route, e.supplier, now) is None
            ]
            out = sum(e.state in OUT_OF_TRAFFIC for e in route.suppliers) + 1
            limit = self._settings.safety.max_ejected_share
            where = f"{entry.supplier} on carrier {route.carrier} for class {route.message_class}"
            if not targets:
                why = "no healthy supplier would take its traffic"
            elif out / len(route.suppliers) > limit:
                why = f"{out} of {len(route.suppliers)} suppliers would be out (max {limit:.0%})"
            else:
                why = ""
            if why:
                outcome.fail_static.append(
                    FailStatic(
                        route.carrier,
                        route.message_class,
                        entry.supplier,
                        f"fail static: {where} is unfit ({cause.text}) but stays: {why}",
                        {**cause.evidence, "held_because": why},
                    )
                )
                continue
            if not dwell_over:
                continue  # changed moments ago: decide again once the dwell is over
            route = with_entry(route, entry.supplier, "ejected", entry.weight)
            self._ejections[(route.carrier, route.message_class, entry.supplier)] = Ejection(
                now, cause
            )
            arrow = f"{entry.supplier}→{','.join(targets)}"
            outcome.decisions.append(
                RouteDecision(
                    "cutover",
                    route,
                    entry.supplier,
                    f"cut over {arrow} on carrier {route.carrier} for class "
                    f"{route.message_class}: {cause.text}",
                    cause.changed_by,
                    {**cause.evidence, "targets": targets},
                )
            )
        return route
