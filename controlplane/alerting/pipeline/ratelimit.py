"""Rate limits before they are hit: a sliding-window budget per endpoint and the digest planner.

While an endpoint has budget to spare, each group notification goes out alone. When the budget is
short (at or below half its capacity), queued notifications wait and go out merged into one
digest, paced so the rest of the budget lasts the window; a critical one that would wait goes to
the receiver's next channel instead. Nothing is dropped: every queued alert is in some message.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from controlplane.alerting.pipeline.model import Budget

Item = TypeVar("Item")


class SlidingWindowBudget:
    """At most `capacity` sends in any `window_s` seconds, measured on a monotonic clock."""

    def __init__(self, capacity: int, window_s: float) -> None:
        if capacity < 1 or window_s <= 0:
            raise ValueError("a budget needs capacity >= 1 and window_s > 0")
        self._capacity = capacity
        self._window_s = window_s
        self._sent_at: deque[float] = deque()

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def window_s(self) -> float:
        return self._window_s

    def remaining(self, now: float) -> int:
        while self._sent_at and self._sent_at[0] <= now - self._window_s:
            self._sent_at.popleft()
        return self._capacity - len(self._sent_at)

    def spend(self, now: float) -> None:
        self.remaining(now)
        self._sent_at.append(now)


@dataclass(frozen=True)
class Plan(Generic[Item]):
    """What to do with an endpoint's queue now."""

    alone: tuple[Item, ...] = ()  # send each as it is
    digest: tuple[Item, ...] = ()  # send all merged into one message
    divert: tuple[Item, ...] = ()  # send on the receiver's next channel
    hold: tuple[Item, ...] = ()  # keep queued for a later tick


class DigestPlanner:
    """Decides, per endpoint, between single sends, a digest, diverting criticals, and waiting."""

    def __init__(self) -> None:
        self._last_digest_at: dict[str, float] = {}

    def plan(
        self,
        endpoint: str,
        budget: Budget | None,
        queue: Sequence[Item],
        critical: Sequence[bool],
        now: float,
    ) -> Plan[Item]:
        if not queue:
            return Plan()
        if budget is None:
            return Plan(alone=tuple(queue))
        remaining = budget.remaining(now)
        reserve = budget.capacity // 2
        if remaining - len(queue) >= reserve:
            return Plan(alone=tuple(queue))
        # Short: one digest per pace, so the remaining sends spread over the window.
        pace = budget.window_s / max(reserve, 1)
        last = self._last_digest_at.get(endpoint)
        if remaining >= 1 and (last is None or now - last >= pace):
            self._last_digest_at[endpoint] = now
            return Plan(digest=tuple(queue))
        divert = tuple(item for item, urgent in zip(queue, critical, strict=True) if urgent)
        hold = tuple(item for item, urgent in zip(queue, critical, strict=True) if not urgent)
        return Plan(divert=divert, hold=hold)
