"""Remembers the reports the gateway took, so a replay is answered but not published again.

A report is the same report when its supplier, its own key and its status are: the key is the
recipient's (Alibaba's biz_id + phone of a multi-number send) or else the supplier's message
id. The memory is in storage (TakenReportRepository), so a restarted gateway remembers too, and
bounded by age and count (`purge`). Reports being taken right now are also known in this
process: the same report pushed twice at once is taken once, and the other push is told to
come back later, when it is a plain replay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sendtier.receipts.coalescing import Coalesced
from sendtier.storage import TakenReport, TakenReportRepository
from smsplatform.clock import Clock
from suppliers.base import SupplierReport

log = logging.getLogger(__name__)


def taken_report(supplier: str, report: SupplierReport, taken_at: datetime) -> TakenReport:
    """What is remembered of a final report."""
    assert report.status is not None, "only final reports are taken"
    key = report.recipient_id or report.supplier_message_id
    return TakenReport(supplier, key, report.status, taken_at)


@dataclass
class Claim:
    """The final reports of one push, sorted by whether they were taken before."""

    # Reports never taken, each with what will be remembered of it; this push now owns them.
    fresh: list[tuple[SupplierReport, TakenReport]] = field(default_factory=list)
    # Reports taken before, or repeated within the push.
    replays: int = 0
    # Some report is being taken by another push right now: this one owns nothing.
    busy: bool = False


class ReplayMemory:
    """Sorts pushed reports into fresh and replayed, and remembers those taken."""

    def __init__(
        self,
        repository: TakenReportRepository,
        clock: Clock,
        horizon_s: float,
        max_entries: int,
    ) -> None:
        self._repository = repository
        # Concurrent pushes share their lookups and their writes: one query, one commit.
        self._lookup = Coalesced(repository.taken)
        self._store = Coalesced(repository.add_batch)
        self._clock = clock
        self._horizon = timedelta(seconds=horizon_s)
        self._max_entries = max_entries
        self._in_flight: set[str] = set()

    async def claim(
        self, supplier: str, reports: Sequence[SupplierReport], taken_at: datetime
    ) -> Claim:
        """Look the reports up; raises if storage cannot say. Release the claim when done."""
        entries: dict[str, tuple[SupplierReport, TakenReport]] = {}
        repeated = 0
        for report in reports:
            taken = taken_report(supplier, report, taken_at)
            if taken.dedup_key in entries:
                repeated += 1
            else:
                entries[taken.dedup_key] = (report, taken)
        if not self._in_flight.isdisjoint(entries):
            return Claim(busy=True)
        # Marked before the lookup: a push of the same report meanwhile finds it busy.
        self._in_flight.update(entries)
        try:
            known = (await self._lookup(list(entries))).intersection(entries)
        except BaseException:
            self._in_flight.difference_update(entries)
            raise
        self._in_flight.difference_update(known)
        fresh = [entry for key, entry in entries.items() if key not in known]
        return Claim(fresh=fresh, replays=repeated + len(known))

    def release(self, claim: Claim) -> None:
        """The push is answered: its reports are remembered in storage, or were not taken."""
        self._in_flight.difference_update(taken.dedup_key for _, taken in claim.fresh)

    async def remember(self, taken: Sequence[TakenReport]) -> None:
        """Store what was taken (raises if storage refused it)."""
        if taken:
            await self._store(taken)

    async def purge(self) -> int:
        """Forget reports older than the horizon, and the oldest beyond the count bound."""
        before = self._clock.now() - self._horizon
        forgotten = await asyncio.to_thread(self._repository.purge, before, self._max_entries)
        if forgotten:
            log.info("event=receipts.replay_memory_purged forgotten=%d", forgotten)
        return forgotten
