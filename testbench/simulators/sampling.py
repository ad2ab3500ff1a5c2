"""The simulator's one seeded random source: chances, weighted picks and delay distributions."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from typing import TypeVar

from testbench.simulators.plan import Distribution

T = TypeVar("T")


class Sampler:
    """Every random draw of a simulator, from one seeded generator so runs can be replayed."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def reseed(self, seed: int) -> None:
        self._random.seed(seed)

    def chance(self, rate: float) -> bool:
        """True with probability `rate` (never for 0, always for 1)."""
        return rate > 0 and (rate >= 1 or self._random.random() < rate)

    def weighted(self, items: Sequence[tuple[T, float]]) -> T:
        """One item, with probability proportional to its weight (weights ≥ 0, some > 0)."""
        total = sum(weight for _, weight in items)
        point = self._random.random() * total
        for item, weight in items:
            point -= weight
            if point < 0 and weight > 0:
                return item
        # Float rounding can leave a hair of `point`: the last item with weight takes it.
        return next(item for item, weight in reversed(items) if weight > 0)

    def pick(self, items: Sequence[T]) -> T:
        return items[self._random.randrange(len(items))]

    def delay_s(self, distribution: Distribution) -> float:
        """One draw of a delay distribution, in seconds (never negative)."""
        if distribution.kind == "fixed":
            return distribution.median_ms / 1000.0
        if distribution.kind == "uniform":
            low, high = distribution.uniform_bounds()
            return max(0.0, self._random.uniform(low, high)) / 1000.0
        if distribution.median_ms == 0:
            return 0.0
        mu, sigma = distribution.lognormal_params()
        return self._random.lognormvariate(mu, sigma) / 1000.0

    def digits(self, count: int) -> str:
        """`count` random decimal digits, the first not zero."""
        return str(self._random.randrange(10 ** (count - 1), 10**count))

    def uuid(self) -> str:
        """A version-4 UUID string drawn from this source (request ids that replay)."""
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def hex(self, count: int) -> str:
        return f"{self._random.getrandbits(count * 4):0{count}x}"
