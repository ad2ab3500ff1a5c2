"""Per-endpoint client-side send budget: a sliding-window limiter (e.g. 20 sends per 60 s)."""

from __future__ import annotations

from collections import deque

from controlplane.clock import Clock, system_clock

# What DingTalk and WeCom group robots allow (WIRE.md §1, §2): going over blocks the robot.
ROBOT_LIMIT = 20
ROBOT_WINDOW_S = 60.0


class SlidingWindowBudget:
    """At most `limit` sends in any `window_s` seconds; times are the clock's monotonic seconds.

    `now` defaults to the injected clock, so callers and tests can pass their own instant.
    """

    def __init__(
        self,
        limit: int = ROBOT_LIMIT,
        window_s: float = ROBOT_WINDOW_S,
        clock: Clock = system_clock,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("budget: limit must be >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._sent_at: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._sent_at and self._sent_at[0] <= now - self.window_s:
            self._sent_at.popleft()

    def _now(self, now: float | None) -> float:
        return self._clock.monotonic() if now is None else now

    def available(self, now: float | None = None) -> int:
        """How many sends the window still allows at `now`."""
        at = self._now(now)
        self._expire(at)
        return self.limit - len(self._sent_at)

    def take(self, now: float | None = None) -> bool:
        """Spend one send at `now`; False (and nothing spent) when the window is full."""
        at = self._now(now)
        if self.available(at) <= 0:
            return False
        self._sent_at.append(at)
        return True

    def wait_time(self, now: float | None = None) -> float:
        """Seconds from `now` until one send is available (0 when one is available now)."""
        at = self._now(now)
        if self.available(at) > 0:
            return 0.0
        return self._sent_at[0] + self.window_s - at


class EndpointBudgets:
    """One budget per endpoint key (a robot's token, a URL), created on first use."""

    def __init__(
        self,
        limit: int = ROBOT_LIMIT,
        window_s: float = ROBOT_WINDOW_S,
        clock: Clock = system_clock,
    ) -> None:
        self._limit, self._window_s, self._clock = limit, window_s, clock
        self._by_endpoint: dict[str, SlidingWindowBudget] = {}

    def for_endpoint(self, endpoint: str) -> SlidingWindowBudget:
        budget = self._by_endpoint.get(endpoint)
        if budget is None:
            budget = SlidingWindowBudget(self._limit, self._window_s, self._clock)
            self._by_endpoint[endpoint] = budget
        return budget
