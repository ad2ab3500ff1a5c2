"""Per-supplier limits and health: concurrency, TPS, throttle back-off and supplier-wide skip.

All times are `Clock.monotonic()` seconds, passed in by the caller, so the rules are pure and
tests drive them with a ManualClock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from suppliers.base import SubmitErrorClass
from suppliers.settings import SupplierSettings

# A supplier's bucket holds this many seconds' worth of tokens: enough to absorb the jitter of
# concurrent submits, small enough that a burst never runs far ahead of the supplier's own bucket.
BURST_SECONDS = 0.1
# Throttle back-off without a Retry-After: 0.5 s, doubling per consecutive throttle, up to 30 s.
THROTTLE_BACKOFF_S = 0.5
THROTTLE_BACKOFF_MAX_S = 30.0
# Supplier-wide failures (balance, account, signature) are not fixed in seconds: 60 s, doubling
# each time the supplier fails again right after its cool-down, up to 15 minutes.
DOWN_COOLDOWN_S = 60.0
DOWN_COOLDOWN_MAX_S = 900.0
# Answers that say nothing about whether the supplier's account works.
_INCONCLUSIVE = frozenset({SubmitErrorClass.RETRIABLE, SubmitErrorClass.TIMEOUT})


class TokenBucket:
    """A token bucket that hands out reservations: each caller learns how long to wait."""

    def __init__(self, rate_per_s: float, capacity: float, now: float) -> None:
        if rate_per_s <= 0 or capacity <= 0:
            raise ValueError(f"rate and capacity must be positive, got {rate_per_s}, {capacity}")
        self._rate = rate_per_s
        self._capacity = capacity
        self._tokens = capacity
        self._updated = now

    def reserve(self, now: float) -> float:
        """Take one token; the seconds to wait before using it (0 when one was in the bucket).

        Tokens may go negative: a reservation queues behind earlier ones, so waiters are served
        in order and the long-run rate never exceeds `rate_per_s`.
        """
        elapsed = max(now - self._updated, 0.0)
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
        self._updated = max(now, self._updated)
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self._rate


class BackOff:
    """An exponential back-off: blocked until a deadline that grows with consecutive trips."""

    def __init__(self, base_s: float, max_s: float) -> None:
        self._base_s = base_s
        self._max_s = max_s
        self._trips = 0
        self.until = 0.0

    def trip(self, now: float, wait_s: float | None = None) -> float:
        """Block from `now` for `wait_s` if given, else the next exponential step; the seconds."""
        self._trips += 1
        if wait_s is None or wait_s <= 0:
            wait_s = min(self._base_s * 2 ** (self._trips - 1), self._max_s)
        self.until = max(self.until, now + wait_s)
        return wait_s

    def reset(self) -> None:
        self._trips = 0

    def blocked(self, now: float) -> bool:
        return now < self.until


class SupplierLimits:
    """One supplier's gate: its concurrency slots, its TPS bucket and its two back-offs."""

    def __init__(self, max_concurrency: int, tps: float, now: float) -> None:
        self.slots = asyncio.Semaphore(max_concurrency)
        self.bucket = TokenBucket(tps, max(1.0, tps * BURST_SECONDS), now)
        self.throttle = BackOff(THROTTLE_BACKOFF_S, THROTTLE_BACKOFF_MAX_S)
        self.down = BackOff(DOWN_COOLDOWN_S, DOWN_COOLDOWN_MAX_S)

    def available_at(self) -> float:
        """When the supplier takes new submits again (in the past when it does now)."""
        return max(self.throttle.until, self.down.until)


@dataclass(frozen=True)
class Unavailable:
    """Why a supplier is skipped right now, and until when."""

    reason: str  # "throttled" or "down"
    until: float


class SupplierGates:
    """The limits of every configured supplier, by name."""

    def __init__(self, suppliers: Iterable[SupplierSettings], now: float) -> None:
        self._limits: Mapping[str, SupplierLimits] = {
            s.name: SupplierLimits(s.max_concurrency, s.tps, now) for s in suppliers
        }

    def __getitem__(self, supplier: str) -> SupplierLimits:
        return self._limits[supplier]

    def unavailable(self, supplier: str, now: float) -> Unavailable | None:
        """Why `supplier` must be skipped at `now`, or None when it may be tried."""
        limits = self._limits[supplier]
        if limits.down.blocked(now):
            return Unavailable("down", limits.down.until)
        if limits.throttle.blocked(now):
            return Unavailable("throttled", limits.throttle.until)
        return None

    def record(
        self,
        supplier: str,
        error_class: SubmitErrorClass | None,
        now: float,
        retry_after_s: float | None = None,
    ) -> float | None:
        """Learn from one submit's answer; the seconds the supplier is now skipped, if any.

        Throttled backs the supplier off (honouring Retry-After); supplier-wide starts a
        cool-down. An accepted submit or a message-level refusal shows the account works, so
        the next back-off starts small again; a 5xx or a timeout proves nothing either way.
        """
        limits = self._limits[supplier]
        if error_class is SubmitErrorClass.THROTTLED:
            return limits.throttle.trip(now, retry_after_s)
        if error_class is SubmitErrorClass.SUPPLIER_WIDE:
            return limits.down.trip(now)
        if error_class not in _INCONCLUSIVE:
            limits.throttle.reset()
            limits.down.reset()
        return None
