"""The health model per (supplier, carrier): is a supplier fit to carry traffic to a carrier now?

Fed with receipts, submit results and supplier logs as they arrive (pure: no I/O, time from the
caller), it raises a `Finding` when one of four signals says no:
- delivery: a sequential test of 97 % against 60 % delivery (controlplane/actions/sequential.py)
  crossed its boundary, the suspicion rests on `min_volume` receipts, and the supplier is an
  outlier: its delivery over that run is below its peers' on the same carrier by `peer_margin`
  (when the whole carrier fails, moving traffic would not help);
- submits: the same test on submit acceptance (failures that are the supplier's: retriable,
  timeout, supplier-wide), with the same outlier check;
- receipts missing: most accepted submits of the span that is now overdue (`factor` × the
  supplier's usual receipt delay) have no receipt. Classes whose receipts arrive as a
  degradation sample (weight > 1) are left out of this count: their unsampled receipts never
  come, and a sample is too noisy to tell "missing" from "not drawn";
- supplier down: a supplier-wide failure log (balance, account) makes it unusable everywhere.
The test's threshold is raised from Wald's ln((1-β)/α) to ln(rate × false_alarm_horizon_s), so a
steady supplier is not cut over by chance at high rates (see HealthSettings).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final

from controlplane.actions.cutover_settings import HealthSettings
from controlplane.actions.findings import EVERY_CARRIER, CanaryReading, Finding, Signal
from controlplane.actions.sequential import (
    Cusum,
    Evidence,
    LikelihoodSteps,
    Mark,
    RecentCounts,
    wald_lower,
    wald_upper,
)
from smsplatform.contracts import Receipt, SubmitResult, SupplierLog

_FAILED_RECEIPTS: Final = frozenset({"FAILED", "EXPIRED", "REJECTED"})
# Submit failures that say something about the supplier (not the message, not our own pacing).
_SUPPLIER_FAILURES: Final = frozenset({"retriable", "timeout", "supplier_wide"})
_DELAY_SMOOTHING: Final = 0.05
# Receipt delays beyond this are not waited for: a carrier may hold a report for hours.
_MAX_OVERDUE_S: Final = 3600.0


class _Track:
    """Everything the model keeps about one (supplier, carrier)."""

    __slots__ = (
        "accepted_by_second",
        "canary",
        "changes",
        "delay_s",
        "delivery",
        "missing_sums",
        "receipts_by_second",
        "recent_receipts",
        "recent_submits",
        "submits",
    )

    def __init__(self, model: HealthModel, window_s: int) -> None:
        self.delivery = Cusum(model.delivery_steps)
        self.submits = Cusum(model.submit_steps)
        self.recent_receipts = RecentCounts(window_s)
        self.recent_submits = RecentCounts(window_s)
        self.delay_s: float | None = None
        # Accepted submits and the receipts that came back, by the second the submit was made.
        self.accepted_by_second: dict[int, float] = {}
        self.receipts_by_second: dict[int, float] = {}
        self.canary: Evidence | None = None
        # The overdue span's (first, last second, changes seen) and its (accepted, received).
        self.changes = 0
        self.missing_sums: tuple[tuple[int, int, int], tuple[float, float]] | None = None


class HealthModel:
    """The health of every (supplier, carrier) seen; `finding` says whether one is unfit now."""

    def __init__(self, settings: HealthSettings) -> None:
        self.settings = settings
        self.delivery_steps = LikelihoodSteps.between(settings.delivery_p0, settings.delivery_p1)
        self.submit_steps = LikelihoodSteps.between(settings.submit_p0, settings.submit_p1)
        self._wald_upper = wald_upper(settings.alpha, settings.beta)
        self._wald_lower = wald_lower(settings.alpha, settings.beta)
        self._tracks: dict[tuple[str, str], _Track] = {}
        self._down: dict[str, tuple[datetime, SupplierLog]] = {}
        # A round asks about the same (supplier, carrier) many times: answers hold until the
        # next event or another moment.
        self._answers: dict[tuple[str, str], Finding | None] = {}
        # Events older than this (a bus replaying its history after a restart) are not evidence
        # of how a supplier does now.
        self._stale_after = timedelta(seconds=settings.recent_window_s)
        # Message classes whose receipts come as a sample, until when (see `_note_sampled`).
        self._sampled_until: dict[str, datetime] = {}
        # When a class last began to be sampled: the overdue spans of that moment mix submits
        # whose receipts will never come, so "receipts missing" waits them out.
        self._sampling_began: datetime | None = None
        self._answered_at: datetime | None = None

    # --- feeding -------------------------------------------------------------------------------
    def observe_receipts(self, receipts: Iterable[Receipt], now: datetime) -> None:
        self._answers.clear()
        second = int(now.timestamp())
        stale_before = now - self._stale_after
        for receipt in receipts:
            if (
                receipt.status == "UNKNOWN"
                or (receipt.received_at or receipt.reported_at) < stale_before
            ):
                continue
            track = self._track(receipt.supplier, receipt.carrier)
            delivered = receipt.status == "DELIVERED"
            weight = receipt.weight
            track.delivery.observe(delivered, weight, now)
            if track.canary is not None:
                track.canary.observe(delivered, weight)
            track.recent_receipts.add(second, weight if delivered else 0.0, weight)
            submitted = int(receipt.submitted_at.timestamp())
            track.changes += 1
            if weight != 1.0:
                self._note_sampled(receipt.message_class, now)
            elif submitted in track.accepted_by_second:
                track.receipts_by_second[submitted] = (
                    track.receipts_by_second.get(submitted, 0.0) + weight
                )
            arrived = receipt.received_at or receipt.reported_at
            delay = (arrived - receipt.submitted_at).total_seconds()
            if delay >= 0:
                previous = track.delay_s
                track.delay_s = (
                    delay if previous is None else previous + _DELAY_SMOOTHING * (delay - previous)
                )

    def observe_submits(self, results: Iterable[SubmitResult], now: datetime) -> None:
        self._answers.clear()
        second = int(now.timestamp())
        stale_before = now - self._stale_after
        for result in results:
            if not result.accepted and result.error_class not in _SUPPLIER_FAILURES:
                continue  # the message's fault, or our own pacing: not the supplier's health
            if result.at < stale_before:
                continue
            track = self._track(result.supplier, result.carrier)
            track.submits.observe(result.accepted, 1.0, now)
            track.recent_submits.add(second, 1.0 if result.accepted else 0.0, 1.0)
            if result.accepted and not self._sampled(result.message_class, now):
                track.changes += 1
                submitted = int(result.at.timestamp())
                track.accepted_by_second[submitted] = (
                    track.accepted_by_second.get(submitted, 0.0) + 1.0
                )
        self._forget_old_submits(second)

    def _note_sampled(self, message_class: str, now: datetime) -> None:
        if not self._sampled(message_class, now):
            self._sampling_began = now
        self._sampled_until[message_class] = now + self._stale_after

    def _sampled(self, message_class: str, now: datetime) -> bool:
        until = self._sampled_until.get(message_class)
        return until is not None and now < until

    def observe_logs(self, logs: Iterable[SupplierLog], now: datetime) -> None:
        self._answers.clear()
        for entry in logs:
            if entry.fields.get("error_class") != "supplier_wide" and entry.level != "CRITICAL":
                continue
            cooldown = entry.fields.get("cooldown_s")
            hold = max(self.settings.supplier_down_s, float(cooldown or 0.0))
            until = entry.at.timestamp() + hold
            current = self._down.get(entry.supplier)
            if current is None or current[0].timestamp() < until:
                self._down[entry.supplier] = (datetime.fromtimestamp(until, entry.at.tzinfo), entry)

    # --- verdicts ------------------------------------------------------------------------------
    def finding(self, supplier: str, carrier: str, now: datetime) -> Finding | None:
        """Why `supplier` is unfit for `carrier` now, or None when nothing says so."""
        if now != self._answered_at:
            self._answers.clear()
            self._answered_at = now
        key = (supplier, carrier)
        if key not in self._answers:
            self._answers[key] = self._assess(supplier, carrier, now)
        return self._answers[key]

    def _assess(self, supplier: str, carrier: str, now: datetime) -> Finding | None:
        down = self._down.get(supplier)
        if down is not None and down[0] > now:
            entry = down[1]
            return Finding(
                supplier,
                EVERY_CARRIER,
                "supplier_down",
                span_s=(now - entry.at).total_seconds(),
                detail=f"{entry.code} {entry.text}".strip(),
            )
        track = self._tracks.get((supplier, carrier))
        if track is None:
            return None
        return (
            self._sequential(supplier, carrier, track, "delivery", now)
            or self._sequential(supplier, carrier, track, "submits", now)
            or self._receipts_missing(supplier, carrier, track, now)
        )

    def findings(self, now: datetime) -> list[Finding]:
        """Every (supplier, carrier) seen that is unfit now."""
        found = []
        for supplier, carrier in self._tracks:
            finding = self.finding(supplier, carrier, now)
            if finding is not None:
                found.append(finding)
        return found

    def is_down(self, supplier: str, now: datetime) -> bool:
        down = self._down.get(supplier)
        return down is not None and down[0] > now

    def begin_canary(self, supplier: str, carrier: str, *, fresh: bool) -> Mark:
        """A canary step begins; returns the mark its verdict counts from. `fresh` (the first
        canary of this supplier on this carrier) also starts the fault tests anew."""
        track = self._track(supplier, carrier)
        if fresh:
            self.restart(supplier, carrier)
            track.canary = Evidence(self.delivery_steps)
        elif track.canary is None:
            track.canary = Evidence(self.delivery_steps)
        return track.canary.mark()

    def restart(self, supplier: str, carrier: str) -> None:
        """Start the fault tests of this supplier and carrier afresh (evidence before is moot)."""
        self._answers.pop((supplier, carrier), None)
        track = self._track(supplier, carrier)
        track.delivery.reset()
        track.submits.reset()

    def stop_canary(self, supplier: str, carrier: str) -> None:
        """No canary of this supplier on this carrier runs any more."""
        track = self._tracks.get((supplier, carrier))
        if track is not None:
            track.canary = None

    def canary_reading(
        self, supplier: str, carrier: str, since: Mark, now: datetime
    ) -> CanaryReading:
        """The verdict on the canary step that began at `since`, with the counts it rests on."""
        track = self._tracks.get((supplier, carrier))
        canary = track.canary if track is not None else None
        step = canary.since(since) if canary is not None else None
        unfit = self.finding(supplier, carrier, now) is not None
        return CanaryReading.judge(unfit, step, self._wald_lower, self.settings.min_volume)

    def snapshot(self, now: datetime) -> list[dict[str, object]]:
        """Every (supplier, carrier) with its recent rates and scores: for the API and console."""
        rows: list[dict[str, object]] = []
        for (supplier, carrier), track in sorted(self._tracks.items()):
            finding = self.finding(supplier, carrier, now)
            receipts, submits = track.recent_receipts, track.recent_submits
            rows.append(
                {
                    "supplier": supplier,
                    "carrier": carrier,
                    "healthy": finding is None,
                    "finding": None if finding is None else finding.describe(),
                    "delivery_rate": receipts.successes / receipts.total
                    if receipts.total
                    else None,
                    "receipts": receipts.total,
                    "submit_acceptance": submits.successes / submits.total
                    if submits.total
                    else None,
                    "submits": submits.total,
                    "delivery_score": track.delivery.score,
                    "submit_score": track.submits.score,
                    "receipt_delay_s": track.delay_s,
                }
            )
        return rows

    # --- internals -----------------------------------------------------------------------------
    def _track(self, supplier: str, carrier: str) -> _Track:
        track = self._tracks.get((supplier, carrier))
        if track is None:
            track = self._tracks[(supplier, carrier)] = _Track(self, self.settings.recent_window_s)
        return track

    def threshold(self, events_per_s: float) -> float:
        """The score that means "faulty" at this event rate (see the module docstring)."""
        horizon = self.settings.false_alarm_horizon_s
        if horizon <= 0 or events_per_s <= 0:
            return self._wald_upper
        return max(self._wald_upper, math.log(events_per_s * horizon))

    def _sequential(
        self, supplier: str, carrier: str, track: _Track, signal: Signal, now: datetime
    ) -> Finding | None:
        cusum, recent = (
            (track.delivery, track.recent_receipts)
            if signal == "delivery"
            else (track.submits, track.recent_submits)
        )
        run = cusum.run
        if run.total < self.settings.min_volume:
            return None
        second = int(now.timestamp())
        if cusum.score < self.threshold(recent.rate_per_s(second)):
            return None
        started = run.started_at or now
        peer_rate = self._peer_rate(supplier, carrier, signal, started)
        if peer_rate is not None and run.success_rate >= peer_rate - self.settings.peer_margin:
            return None  # the whole carrier is failing: another supplier would do no better
        return Finding(
            supplier,
            carrier,
            signal,
            rate=run.success_rate,
            events=run.total,
            span_s=(now - started).total_seconds(),
            peer_rate=peer_rate,
        )

    def _peer_rate(
        self, supplier: str, carrier: str, signal: Signal, since: datetime
    ) -> float | None:
        """The other suppliers' pooled rate on `carrier` over the same span as the suspicion."""
        first_second = int(since.timestamp())
        successes = total = 0.0
        for (other, other_carrier), track in self._tracks.items():
            if other == supplier or other_carrier != carrier:
                continue
            recent = track.recent_receipts if signal == "delivery" else track.recent_submits
            other_successes, other_total = recent.since(first_second)
            successes += other_successes
            total += other_total
        return successes / total if total >= self.settings.min_volume else None

    def _receipts_missing(
        self, supplier: str, carrier: str, track: _Track, now: datetime
    ) -> Finding | None:
        settings = self.settings
        overdue = settings.receipt_overdue_min_s
        if track.delay_s is not None:
            overdue = max(overdue, settings.receipt_overdue_factor * track.delay_s)
        overdue = min(overdue, _MAX_OVERDUE_S)
        began = self._sampling_began
        if began is not None and (now - began).total_seconds() < 2 * overdue:
            return None
        newest = int(now.timestamp() - overdue)
        oldest = newest - int(overdue)  # one overdue span: recent enough to act on soon
        accepted, received = self._overdue_sums(track, oldest, newest)
        if accepted < settings.receipts_missing_min_submits:
            return None
        received_share = min(received / accepted, 1.0)
        if 1.0 - received_share < settings.receipts_missing_share:
            return None
        return Finding(
            supplier,
            carrier,
            "receipts_missing",
            rate=received_share,
            events=accepted,
            span_s=overdue,
            detail=f"usual delay {track.delay_s or 0.0:.1f}s",
        )

    @staticmethod
    def _overdue_sums(track: _Track, oldest: int, newest: int) -> tuple[float, float]:
        """Accepted submits of seconds oldest..newest and their receipts (kept until a change)."""
        key = (oldest, newest, track.changes)
        if track.missing_sums is not None and track.missing_sums[0] == key:
            return track.missing_sums[1]
        accepted = received = 0.0
        by_second, receipts_by_second = track.accepted_by_second, track.receipts_by_second
        for second in range(oldest, newest + 1):
            count = by_second.get(second)
            if count is not None:
                accepted += count
                received += receipts_by_second.get(second, 0.0)
        track.missing_sums = (key, (accepted, received))
        return accepted, received

    def _forget_old_submits(self, second: int) -> None:
        # Far enough back that no overdue span can reach it (delays are capped by the factor).
        keep_from = second - self.settings.recent_window_s - int(_MAX_OVERDUE_S)
        for track in self._tracks.values():
            by_second = track.accepted_by_second
            if by_second and next(iter(by_second)) < keep_from:
                for old in [s for s in by_second if s < keep_from]:
                    del by_second[old]
                    track.receipts_by_second.pop(old, None)
