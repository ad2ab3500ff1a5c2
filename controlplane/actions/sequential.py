"""Sequential tests on success/failure streams: Page's CUSUM of Wald's SPRT log-likelihood ratio.

Each event adds ln(P(event | faulty p1) / P(event | healthy p0)) to a score held at ≥ 0: a
sequence of SPRTs restarted whenever the evidence favours health. The score crosses the upper
boundary after about ln((1-β)/α) / E[step | p1] events once a fault is on (≈ 6 receipts for
97 % against 60 % at α = β = 0.01), and drifts back to 0 while the stream is healthy.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime


def wald_upper(alpha: float, beta: float) -> float:
    """The SPRT boundary for deciding "faulty": ln((1-β)/α)."""
    return math.log((1 - beta) / alpha)


def wald_lower(alpha: float, beta: float) -> float:
    """The SPRT boundary for deciding "healthy": ln(β/(1-α))."""
    return math.log(beta / (1 - alpha))


@dataclass(frozen=True)
class LikelihoodSteps:
    """What one success and one failure add to the log-likelihood ratio of p1 against p0."""

    success: float  # negative: a success is evidence of health
    failure: float  # positive

    @classmethod
    def between(cls, healthy: float, faulty: float) -> LikelihoodSteps:
        return cls(math.log(faulty / healthy), math.log((1 - faulty) / (1 - healthy)))

    def expected_step(self, success_rate: float) -> float:
        return success_rate * self.success + (1 - success_rate) * self.failure


@dataclass
class Run:
    """The events since the score last stood at 0: what a suspicion rests on."""

    successes: float = 0.0
    total: float = 0.0
    started_at: datetime | None = None

    @property
    def success_rate(self) -> float:
        return self.successes / self.total if self.total else 1.0


class Cusum:
    """One stream's score and its current run; weights count an event several times."""

    __slots__ = ("_steps", "run", "score")

    def __init__(self, steps: LikelihoodSteps) -> None:
        self._steps = steps
        self.score = 0.0
        self.run = Run()

    def observe(self, success: bool, weight: float, at: datetime) -> None:
        step = self._steps.success if success else self._steps.failure
        score = self.score + step * weight
        if score <= 0.0:
            self.score = 0.0
            self.run = Run()
            return
        if self.run.started_at is None:
            self.run.started_at = at
        self.score = score
        self.run.total += weight
        if success:
            self.run.successes += weight

    def reset(self) -> None:
        self.score = 0.0
        self.run = Run()


@dataclass(frozen=True)
class Mark:
    """Where an Evidence stood when a canary step began: its sum, its count and its successes."""

    llr: float = 0.0
    total: float = 0.0
    successes: float = 0.0


class Evidence:
    """A plain SPRT sum, read from marks (canary steps): "healthy" at the lower boundary.

    It keeps adding up while any canary of its supplier and carrier runs; each step judges only
    what came after its own mark, so routes of several classes can share it.
    """

    __slots__ = ("_steps", "llr", "successes", "total")

    def __init__(self, steps: LikelihoodSteps) -> None:
        self._steps = steps
        self.llr = 0.0
        self.successes = 0.0
        self.total = 0.0

    def observe(self, success: bool, weight: float) -> None:
        self.llr += (self._steps.success if success else self._steps.failure) * weight
        self.total += weight
        if success:
            self.successes += weight

    def mark(self) -> Mark:
        return Mark(self.llr, self.total, self.successes)

    def since(self, mark: Mark) -> Mark:
        """The sum, count and successes of what was observed after `mark`."""
        return Mark(self.llr - mark.llr, self.total - mark.total, self.successes - mark.successes)


class RecentCounts:
    """Successes and totals per second over the last `span_s` seconds, oldest dropped first."""

    __slots__ = ("_buckets", "first_second", "span_s", "successes", "total")

    def __init__(self, span_s: int) -> None:
        self.span_s = span_s
        self._buckets: deque[list[float]] = deque()  # [second, successes, total]
        self.successes = 0.0
        self.total = 0.0
        self.first_second: int | None = None

    def add(self, second: int, successes: float, total: float) -> None:
        if self.first_second is None:
            self.first_second = second
        if self._buckets and self._buckets[-1][0] >= second:
            bucket = self._buckets[-1]  # same second (or a clock step back): fold in
        else:
            bucket = [float(second), 0.0, 0.0]
            self._buckets.append(bucket)
        bucket[1] += successes
        bucket[2] += total
        self.successes += successes
        self.total += total
        self.expire(second)

    def expire(self, second: int) -> None:
        horizon = second - self.span_s
        while self._buckets and self._buckets[0][0] <= horizon:
            _, successes, total = self._buckets.popleft()
            self.successes -= successes
            self.total -= total
        if not self._buckets:
            self.successes = self.total = 0.0

    def since(self, second: int) -> tuple[float, float]:
        """Successes and total from `second` on (within the span)."""
        successes = total = 0.0
        for bucket in reversed(self._buckets):
            if bucket[0] < second:
                break
            successes += bucket[1]
            total += bucket[2]
        return successes, total

    def rate_per_s(self, second: int) -> float:
        """Events per second over the span (or since the first event, if that is sooner)."""
        if self.first_second is None:
            return 0.0
        elapsed = max(1, min(self.span_s, second - self.first_second + 1))
        return self.total / elapsed
