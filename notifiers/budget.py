"""Per-endpoint client-side send budget: a sliding-window limiter (e.g. 20 sends per 60 s)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from smsplatform.clock import Clock, system_clock

# What DingTalk and WeCom group robots allow (WIRE.md §1, §2): going over blocks the robot.
ROBOT_LIMIT = 20
ROBOT_WINDOW_S = 60.0
# (limit, window seconds) pairs, shortest window first. Over these the excess is dropped
# silently (WeCom application, per member, WIRE.md §3) or refused per callee, counting every
# attempt (voice, WIRE.md §4).
Limits = Sequence[tuple[int, float]]
WECOM_APP_MEMBER_LIMITS: Limits = ((30, 60.0), (1000, 3600.0))
VOICE_CALLEE_LIMITS: Limits = ((1, 60.0), (5, 3600.0), (20, 86400.0))


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


class CombinedBudget(SlidingWindowBudget):
    """Budgets that must all have room: minute, hour and day limits, or every member messaged.

    `limit` and `window_s` are the first part's, which the digest planner paces by.
    """

    def __init__(self, parts: Sequence[SlidingWindowBudget], clock: Clock = system_clock) -> None:
        if not parts:
            raise ValueError("budget: a combined budget needs at least one part")
        super().__init__(parts[0].limit, parts[0].window_s, clock)
        self.parts = tuple(parts)

    def available(self, now: float | None = None) -> int:
        at = self._now(now)
        return min(part.available(at) for part in self.parts)

    def take(self, now: float | None = None) -> bool:
        at = self._now(now)
        if self.available(at) <= 0:
            return False
        for part in self.parts:
            part.take(at)
        return True

    def wait_time(self, now: float | None = None) -> float:
        at = self._now(now)
        return max(part.wait_time(at) for part in self.parts)


class EndpointBudgets:
    """One budget per endpoint key (a robot's token, a member, a callee), created on first use."""

    def __init__(
        self,
        limit: int = ROBOT_LIMIT,
        window_s: float = ROBOT_WINDOW_S,
        clock: Clock = system_clock,
    ) -> None:
        self._limit, self._window_s, self._clock = limit, window_s, clock
        self._by_endpoint: dict[str, SlidingWindowBudget] = {}

    def for_endpoint(self, endpoint: str, limits: Limits | None = None) -> SlidingWindowBudget:
        """The endpoint's budget; `limits` (default: this collection's one) apply at creation."""
        budget = self._by_endpoint.get(endpoint)
        if budget is None:
            windows = [
                SlidingWindowBudget(limit, window_s, self._clock)
                for limit, window_s in limits or ((self._limit, self._window_s),)
            ]
            budget = windows[0] if len(windows) == 1 else CombinedBudget(windows, self._clock)
            self._by_endpoint[endpoint] = budget
        return budget
