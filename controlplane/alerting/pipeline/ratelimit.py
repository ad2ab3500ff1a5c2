"""Rate limits before they are hit: the digest planner over each endpoint's send budget.

While an endpoint has budget to spare, each group notification goes out alone. When the budget is
short (at or below half its capacity), queued notifications wait and go out merged into one
digest, paced so the rest of the budget lasts the window; a critical one that would wait goes to
the receiver's next channel instead. Nothing is dropped: every queued alert is in some message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from notifiers.budget import SlidingWindowBudget

Item = TypeVar("Item")


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
        budget: SlidingWindowBudget | None,
        queue: Sequence[Item],
        critical: Sequence[bool],
        now: float,
    ) -> Plan[Item]:
        if not queue:
            return Plan()
        if budget is None:
            return Plan(alone=tuple(queue))
        remaining = budget.available(now)
        reserve = budget.limit // 2
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
