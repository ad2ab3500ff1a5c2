"""Failback by canary: an ejected supplier comes back in steps (1 % → 5 % → 25 % → 100 %).

After `cooldown_s` out of traffic (and not while it is out of balance or a rule still holds it
out), an ejected supplier becomes `probing` with the first share as its weight and the health
model starts its tests afresh. A step is promoted once it has lasted `window_s` and its receipts
accept health (Wald's lower boundary); the last step restores the supplier's configured weight.
A canary the health model finds unfit is ejected again at once, whatever the dwell, and cools
down again. Each step's version is stored with what the step showed (its receipts, delivered
share and test sum, how long it ran), so a promotion or re-ejection can be checked afterwards.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import replace
from datetime import datetime, timedelta

from controlplane.actions.cutover_settings import FailbackSettings
from controlplane.actions.decisions import (
    Action,
    Cause,
    Ejection,
    Round,
    RouteDecision,
    duration_text,
)
from controlplane.actions.findings import CanaryReading
from controlplane.actions.health import HealthModel
from controlplane.actions.route_edits import ANY_CARRIER, HomeWeights, with_entry
from controlplane.actions.sequential import Mark
from smsplatform.contracts import Route, RouteEntry

EjectionKey = tuple[str, str, str]  # (carrier, message class, supplier)


class Failback:
    """The canary half of the cut-over policy; shares the policy's ejection records."""

    def __init__(
        self,
        settings: FailbackSettings,
        health: HealthModel,
        home: HomeWeights,
        ejections: dict[EjectionKey, Ejection],
    ) -> None:
        self._settings = settings
        self._health = health
        self._home = home
        self._ejections = ejections

    def adopt_step(self, key: EjectionKey, entry: RouteEntry, now: datetime) -> None:
        """A probing entry found in a stored table: resume at the step its share says."""
        if entry.state != "probing":
            return
        steps = self._settings.steps
        index = max((i for i, share in enumerate(steps) if share <= entry.weight), default=0)
        record = self._ejections[key]
        record.step, record.step_started_at = index, now
        record.mark = self._begin(key)

    def _begin(self, key: EjectionKey) -> Mark:
        """A step of `key` begins: the mark it is judged from (fresh tests for a first canary)."""
        carrier, _, supplier = key
        return self._health.begin_canary(supplier, carrier, fresh=not self._others_probe(key))

    def _others_probe(self, key: EjectionKey) -> bool:
        """Another class's canary of the same supplier on the same carrier is running."""
        carrier, _, supplier = key
        return any(
            other != key and other[0] == carrier and other[2] == supplier and record.step >= 0
            for other, record in self._ejections.items()
        )

    def _ended(self, key: EjectionKey) -> None:
        """`key` no longer probes: the shared evidence goes once no other class's canary runs."""
        if not self._others_probe(key):
            self._health.stop_canary(key[2], key[0])

    def judge_canaries(
        self, route: Route, dwell_over: bool, now: datetime, outcome: Round
    ) -> Route:
        """Eject unfit canaries at once; promote healthy ones whose window is over."""
        for entry in list(route.suppliers):
            key = (route.carrier, route.message_class, entry.supplier)
            record = self._ejections.get(key)
            if entry.state != "probing" or record is None or record.step_started_at is None:
                continue
            reading = self._reading(route.carrier, entry.supplier, record, now)
            step = self._step_evidence(entry, record, reading, now)
            where = f"{entry.supplier} on carrier {route.carrier} for class {route.message_class}"
            if reading.verdict == "unhealthy":
                finding = self._health.finding(entry.supplier, route.carrier, now)
                text = finding.describe() if finding is not None else "unfit"
                evidence = {**(finding.evidence() if finding else {}), "canary": step}
                route = with_entry(
                    route, entry.supplier, "ejected", self._home.weight(route, entry.supplier)
                )
                self._ejections[key] = Ejection(now, Cause(text, "failback", evidence))
                self._ended(key)
                outcome.decisions.append(
                    RouteDecision(
                        "eject_canary",
                        route,
                        entry.supplier,
                        f"canary failed: {where} ejected again at "
                        f"{entry.weight:.0%} of traffic: {text}",
                        "failback",
                        evidence,
                    )
                )
            elif reading.verdict == "healthy" and dwell_over:
                route = self._promote(route, entry, record, where, step, now, outcome)
        return route

    def start_canaries(
        self, route: Route, dwell_over: bool, held: Set[str], now: datetime, outcome: Round
    ) -> Route:
        """Give cooled-down ejected suppliers their first canary share."""
        if not dwell_over:
            return route
        cooldown = timedelta(seconds=self._settings.cooldown_s)
        for entry in list(route.suppliers):
            key = (route.carrier, route.message_class, entry.supplier)
            record = self._ejections.get(key)
            if entry.state != "ejected" or record is None or record.step != -1:
                continue
            if now - record.ejected_at < cooldown or entry.supplier in held:
                continue
            if self._health.is_down(entry.supplier, now):
                continue  # never move traffic onto a supplier without balance
            record.step, record.step_started_at = 0, now
            record.mark = self._begin(key)
            share = self._settings.steps[0]
            route = self._set_share(route, entry.supplier, share)
            rested = duration_text((now - record.ejected_at).total_seconds())
            outcome.decisions.append(
                RouteDecision(
                    "canary",
                    route,
                    entry.supplier,
                    f"canary {entry.supplier} on carrier {route.carrier} for class "
                    f"{route.message_class}: {share:.0%} of traffic after {rested} out",
                    "failback",
                    {
                        "share": share,
                        "ejected_at": record.ejected_at.isoformat(),
                        "ejected_because": record.cause.text,
                        "rested_s": (now - record.ejected_at).total_seconds(),
                        "cooldown_s": self._settings.cooldown_s,
                    },
                )
            )
            if share >= 1.0:
                del self._ejections[key]
                self._ended(key)
        return route

    def _reading(
        self, carrier: str, supplier: str, record: Ejection, now: datetime
    ) -> CanaryReading:
        started = record.step_started_at or now
        window_over = now - started >= timedelta(seconds=self._settings.window_s)
        if carrier == ANY_CARRIER:
            # No per-carrier receipts judge a `*` route: balance back and time served suffice.
            basis = "balance and time served"
            if self._health.is_down(supplier, now):
                return CanaryReading("unhealthy", basis)
            return CanaryReading("healthy" if window_over else "undecided", basis)
        reading = self._health.canary_reading(supplier, carrier, record.mark or Mark(), now)
        if reading.verdict == "healthy" and not window_over:
            return replace(reading, verdict="undecided")
        return reading

    def _step_evidence(
        self, entry: RouteEntry, record: Ejection, reading: CanaryReading, now: datetime
    ) -> dict[str, object]:
        """The step as judged: its share, how long it ran, and what its receipts showed."""
        started = record.step_started_at or now
        return {
            "share": entry.weight,
            "step": record.step,
            "started_at": started.isoformat(),
            "lasted_s": (now - started).total_seconds(),
            "window_s": self._settings.window_s,
            **reading.evidence(),
        }

    def _promote(
        self,
        route: Route,
        entry: RouteEntry,
        record: Ejection,
        where: str,
        step: dict[str, object],
        now: datetime,
        outcome: Round,
    ) -> Route:
        """Next share for a canary whose step proved healthy; `step`: what that step showed."""
        key = (route.carrier, route.message_class, entry.supplier)
        steps = self._settings.steps
        record.step += 1
        record.step_started_at = now
        share = steps[record.step]
        route = self._set_share(route, entry.supplier, share)
        action: Action
        if share >= 1.0:
            del self._ejections[key]
            self._ended(key)
            action, text = "restore", f"restored {where}: full traffic after canary"
        else:
            record.mark = self._begin(key)
            action, text = "promote", f"canary {where}: {entry.weight:.0%} healthy, now {share:.0%}"
        evidence = {"share": share, "canary": step}
        outcome.decisions.append(
            RouteDecision(action, route, entry.supplier, text, "failback", evidence)
        )
        return route

    def _set_share(self, route: Route, supplier: str, share: float) -> Route:
        if share >= 1.0:
            return with_entry(route, supplier, "active", self._home.weight(route, supplier))
        return with_entry(route, supplier, "probing", share)
