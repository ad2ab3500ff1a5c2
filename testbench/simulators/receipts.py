"""The receipts a simulator still owes: ordered by due time, taken for pushes or pulls."""

from __future__ import annotations

import heapq
import itertools
from datetime import datetime

from testbench.simulators.records import ReceiptEvent

_Entry = tuple[float, int, ReceiptEvent]


class ReceiptQueue:
    """Two heaps by due time: events with a callback URL (pushed or pulled) and pull-only ones."""

    def __init__(self) -> None:
        self._push: list[_Entry] = []
        self._pull_only: list[_Entry] = []
        self._sequence = itertools.count()  # ties keep scheduling order

    def schedule(self, event: ReceiptEvent) -> None:
        heap = self._push if event.url is not None else self._pull_only
        heapq.heappush(heap, (event.due_at.timestamp(), next(self._sequence), event))

    def oldest_due(self, now: datetime) -> datetime | None:
        """When the longest-waiting pushable event fell due, if one is due."""
        if self._push and self._push[0][0] <= now.timestamp():
            return self._push[0][2].due_at
        return None

    def count_due(self, now: datetime, up_to: int) -> int:
        """How many pushable events are due, counting no further than `up_to`."""
        taken = self._pop_due(self._push, now.timestamp(), up_to)
        for entry in taken:
            heapq.heappush(self._push, entry)
        return len(taken)

    def take_pushable(self, now: datetime) -> list[ReceiptEvent]:
        """Every due event that has a callback URL, oldest first."""
        return [entry[2] for entry in self._pop_due(self._push, now.timestamp(), None)]

    def take_pullable(self, now: datetime, limit: int) -> list[ReceiptEvent]:
        """Up to `limit` due events of either kind, oldest first (a pull consumes them)."""
        cutoff = now.timestamp()
        merged = self._pop_due(self._pull_only, cutoff, limit) + self._pop_due(
            self._push, cutoff, limit
        )
        merged.sort()
        for entry in merged[limit:]:
            self.schedule(entry[2])
        return [entry[2] for entry in merged[:limit]]

    def pending(self) -> int:
        return len(self._push) + len(self._pull_only)

    def due(self, now: datetime) -> int:
        cutoff = now.timestamp()
        return sum(
            1 for heap in (self._push, self._pull_only) for entry in heap if entry[0] <= cutoff
        )

    def retrying(self) -> int:
        return sum(1 for entry in self._push if entry[2].attempt > 0)

    @staticmethod
    def _pop_due(heap: list[_Entry], cutoff: float, limit: int | None) -> list[_Entry]:
        taken: list[_Entry] = []
        while heap and heap[0][0] <= cutoff and (limit is None or len(taken) < limit):
            taken.append(heapq.heappop(heap))
        return taken
