"""Rate limits: a token bucket per tenant, and sliding-window counters per recipient number.

Both live in this process's memory, which is what the embedded default runs (one API process).
Several API replicas each enforce the limits on their own share of the traffic, so a number
spread over N replicas could get up to N times its limit; a shared store would close that gap.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Hashable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Final

from smsplatform.clock import Clock

DAY_S: Final = 86_400.0


class LimitExceeded(Exception):
    """A limit refused the send: which one, and how long until it would pass."""

    def __init__(self, limit: str, retry_after_s: float) -> None:
        super().__init__(f"{limit} exceeded; retry after {retry_after_s:.1f}s")
        self.limit = limit
        self.retry_after_s = retry_after_s

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, rounded up, at least 1: what an HTTP Retry-After carries."""
        return str(max(1, math.ceil(self.retry_after_s)))


@dataclass(frozen=True, slots=True)
class Window:
    """At most `limit` sends in any `seconds`-long window; `name` is what a refusal reports."""

    name: str
    seconds: float
    limit: int


class TenantBuckets:
    """A token bucket per tenant: `rate` tokens a second, holding at most one second's worth."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # tenant -> (tokens, monotonic time they were counted at)
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, tenant: str, count: int, rate: float) -> None:
        """Take `count` tokens or raise LimitExceeded("tenant_rate").

        A request larger than the bucket passes when the bucket is full and leaves it in debt,
        so a batch bigger than one second's rate is allowed and later requests pay for it.
        """
        now = self._clock.monotonic()
        capacity = max(rate, 1.0)
        tokens, then = self._buckets.get(tenant, (capacity, now))
        tokens = min(capacity, tokens + (now - then) * rate)
        needed = min(float(count), capacity)
        if tokens < needed:
            self._buckets[tenant] = (tokens, now)
            raise LimitExceeded("tenant_rate", (needed - tokens) / rate)
        self._buckets[tenant] = (tokens - count, now)

    def give_back(self, tenant: str, count: int) -> None:
        """Return tokens taken for sends that did not happen."""
        tokens, then = self._buckets[tenant]
        self._buckets[tenant] = (tokens + count, then)


class Reservation:
    """A send counted against a number's windows; cancel() uncounts it if the send fails."""

    __slots__ = ("_stamp", "_stamps")

    def __init__(self, stamps: list[float], stamp: float) -> None:
        self._stamps = stamps
        self._stamp = stamp

    def cancel(self) -> None:
        # Already gone if its generation was dropped meanwhile.
        with suppress(ValueError):
            self._stamps.remove(self._stamp)


class NumberCounters:
    """Send times per key (tenant, message class, number), checked against sliding windows.

    Keys live in two generations that rotate every `horizon`: a key not used for a whole
    generation holds only sends older than any window and is dropped with the old generation.
    Memory is therefore bounded by the numbers sent to in the last two days, without scans.
    """

    def __init__(self, clock: Clock, horizon_s: float = DAY_S) -> None:
        self._clock = clock
        self._horizon = horizon_s
        self._current: dict[Hashable, list[float]] = {}
        self._previous: dict[Hashable, list[float]] = {}
        self._rotated_at = clock.monotonic()

    def __len__(self) -> int:
        """Keys held in memory."""
        return len(self._current) + len(self._previous)

    def reserve(self, key: Hashable, windows: Sequence[Window]) -> Reservation:
        """Count one send now, or raise LimitExceeded naming the first window it would break.

        `windows` must be non-empty, no longer than the horizon, and the same for a key each time.
        """
        now = self._clock.monotonic()
        if now - self._rotated_at >= self._horizon:
            self._previous, self._current = self._current, {}
            self._rotated_at = now
        stamps = self._current.get(key)
        if stamps is None:
            stamps = self._previous.pop(key, None) or []
            self._current[key] = stamps
        # Stamps are in time order; drop those no window can see any more.
        oldest_seen = now - max(window.seconds for window in windows)
        while stamps and stamps[0] <= oldest_seen:
            del stamps[0]
        for window in windows:
            in_window = len(stamps) - bisect_right(stamps, now - window.seconds)
            if in_window >= window.limit:
                # The send that must leave the window for one more to fit.
                leaving = stamps[len(stamps) - window.limit]
                raise LimitExceeded(window.name, leaving + window.seconds - now)
        stamps.append(now)
        return Reservation(stamps, now)
