"""The cut-over health model fed in simulated time: how soon it sees fault (a), how often it
sees one that is not there.

Four suppliers carry one carrier's traffic at the same rate; each message's receipt comes back
after a lognormal delay (median 300 ms, p99 2 s: a good real supplier) and is delivered with
97 % probability. In fault (a) one supplier's messages submitted from the onset on are delivered
at 60 %. Receipts and submit results reach the model in batches every 50 ms, as the bus hands
them to the control plane, with the simulated time as `now`: an hour takes seconds of CPU.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from controlplane.actions.cutover_settings import HealthSettings
from controlplane.actions.health import HealthModel
from controlplane.actions.sequential import LikelihoodSteps, wald_lower, wald_upper
from smsplatform.contracts import Receipt, ReceiptStatus, SubmitResult

SUPPLIERS = ("aliyun", "tencent", "twilio", "cmpp")
FAULTY = "aliyun"
CARRIER = "cmcc"
TICK_S = 0.05
DELAY_MEDIAN_S = 0.3
DELAY_P99_S = 2.0
HEALTHY_DELIVERY = 0.97
FAULTY_DELIVERY = 0.60
WARM_UP_S = 180.0  # longer than the model's recent window: rates and peers are settled
GIVE_UP_S = 120.0
_Z99 = 2.3263478740408408
_T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def expected_receipts_to_decide(healthy: float, faulty: float, alpha: float, beta: float) -> float:
    """Wald's average sample number under the faulty hypothesis (≈ 6 for 97 % vs 60 %)."""
    steps = LikelihoodSteps.between(healthy, faulty)
    upper, lower = wald_upper(alpha, beta), wald_lower(alpha, beta)
    drift = steps.expected_step(faulty)
    return ((1 - beta) * upper + beta * lower) / drift


def theoretical_minimum_s(rate_per_s: float, factor: float = 1.0) -> float:
    """`factor` × the time the SPRT's average receipts after onset take at this rate, plus the
    median receipt delay (the issue's goal is factor 2)."""
    receipts = expected_receipts_to_decide(HEALTHY_DELIVERY, FAULTY_DELIVERY, 0.01, 0.01)
    return factor * receipts / rate_per_s + DELAY_MEDIAN_S


@dataclass
class _Traffic:
    """Messages of four suppliers to one carrier, their receipts due tick by tick."""

    rate_per_s: float
    seed: int
    onset_s: float | None  # from then on the faulty supplier delivers 60 %

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._mu = math.log(DELAY_MEDIAN_S)
        self._sigma = (math.log(DELAY_P99_S) - self._mu) / _Z99
        self._due: dict[int, list[Receipt]] = {}
        self._carry = {supplier: 0.0 for supplier in SUPPLIERS}
        self._serial = 0

    def ticks(self, until_s: float) -> Iterator[tuple[datetime, list[SubmitResult], list[Receipt]]]:
        """(now, submits made this tick, receipts arriving this tick), tick after tick."""
        for tick in range(round(until_s / TICK_S)):
            seconds = tick * TICK_S
            now = _T0 + timedelta(seconds=seconds)
            submits = self._submit(tick, seconds, now)
            yield now, submits, self._due.pop(tick, [])

    def _submit(self, tick: int, seconds: float, now: datetime) -> list[SubmitResult]:
        results = []
        draw = self._random.random
        for supplier in SUPPLIERS:
            # Poisson-like: the expected count, its fraction carried over to the next tick.
            expected = self._carry[supplier] + self.rate_per_s * TICK_S
            count = int(expected)
            self._carry[supplier] = expected - count
            faulty = supplier == FAULTY and self.onset_s is not None and seconds >= self.onset_s
            delivered = FAULTY_DELIVERY if faulty else HEALTHY_DELIVERY
            for _ in range(count):
                self._serial += 1
                message_id = f"m{self._serial}"
                results.append(SubmitResult(message_id, supplier, CARRIER, "otp", True, 5.0, now))
                delay = self._random.lognormvariate(self._mu, self._sigma)
                arrives = now + timedelta(seconds=delay)
                status: ReceiptStatus = "DELIVERED" if draw() < delivered else "FAILED"
                receipt = Receipt(
                    message_id, supplier, CARRIER, "otp", status, now, arrives, received_at=arrives
                )
                self._due.setdefault(tick + 1 + int(delay / TICK_S), []).append(receipt)
        return results


def _feed(
    model: HealthModel, now: datetime, submits: list[SubmitResult], receipts: list[Receipt]
) -> None:
    model.observe_submits(submits, now)
    if receipts:
        model.observe_receipts(receipts, now)


def detection_s(rate_per_s: float, seed: int, settings: HealthSettings) -> float | None:
    """Seconds from the onset of fault (a) to the model's finding on the faulty supplier."""
    model = HealthModel(settings)
    traffic = _Traffic(rate_per_s, seed, onset_s=WARM_UP_S)
    for now, submits, receipts in traffic.ticks(WARM_UP_S + GIVE_UP_S):
        _feed(model, now, submits, receipts)
        if model.finding(FAULTY, CARRIER, now) is not None:
            seconds = (now - _T0).total_seconds() - WARM_UP_S
            if seconds >= 0:
                return seconds
            model.restart(FAULTY, CARRIER)  # a false finding before the fault: not this one
    return None


def false_findings(rate_per_s: float, seed: int, settings: HealthSettings, hours: float) -> int:
    """Findings on healthy suppliers over a steady span: each would be a false cut-over.

    After a finding the supplier's tests restart, as they do when the cut-over acts on it.
    """
    model = HealthModel(settings)
    traffic = _Traffic(rate_per_s, seed, onset_s=None)
    found = 0
    for now, submits, receipts in traffic.ticks(hours * 3600.0):
        _feed(model, now, submits, receipts)
        for supplier in SUPPLIERS:
            if model.finding(supplier, CARRIER, now) is not None:
                found += 1
                model.restart(supplier, CARRIER)
                model.stop_canary(supplier, CARRIER)
    return found
