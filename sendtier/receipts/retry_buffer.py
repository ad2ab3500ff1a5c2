"""Reports whose submit is not known yet, held for a few seconds before they become orphans.

A receipt can overtake its submit: the supplier pushes it before the dispatcher's SubmitResult
has reached this gateway's index or the database. Such reports wait here and are looked up
again; those still unknown when their window ends are kept as orphans.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

from sendtier.suppliers.base import SupplierReport


@dataclass(frozen=True, slots=True)
class PendingReport:
    """One report waiting for its submit."""

    supplier: str
    report: SupplierReport
    received_at: datetime
    # Clock.monotonic() when it was first held; the window runs from here.
    held_since: float


class RetryBuffer:
    """A bounded FIFO of pending reports; `take_all` hands them out, `put_back` returns them."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._pending: deque[PendingReport] = deque()

    def __len__(self) -> int:
        return len(self._pending)

    def room(self) -> int:
        """How many more reports fit."""
        return max(self.capacity - len(self._pending), 0)

    def add(self, pending: list[PendingReport]) -> None:
        """Hold the reports; the caller checks `room()` first (the overflow is its to keep)."""
        if len(pending) > self.room():
            raise OverflowError(f"{len(pending)} reports do not fit in {self.room()} free places")
        self._pending.extend(pending)

    def take_all(self) -> list[PendingReport]:
        """Every pending report, oldest first; the buffer is empty afterwards."""
        taken = list(self._pending)
        self._pending.clear()
        return taken

    def put_back(self, pending: list[PendingReport]) -> None:
        """Return reports taken but not settled, ahead of any added since (they are older)."""
        self._pending.extendleft(reversed(pending))
