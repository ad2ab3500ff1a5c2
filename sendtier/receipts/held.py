"""Reports whose submit is not known yet, held in storage until it is or their window ends.

A receipt can overtake its submit: the supplier pushes it before the dispatcher's SubmitResult
has reached this gateway's index or the database. Such a report is stored with the row that
remembers it was taken (taken_reports), under this gateway's name, before the supplier is told
OK; sweeps look it up again, publish it once its submit is found, or keep it as an orphan when
its window ends. A gateway that stops keeps what it holds and takes it up again on its next
start.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import msgspec

from sendtier.receipts.correlation import Correlator, build_receipt
from sendtier.receipts.metrics import GatewayMetrics
from sendtier.receipts.orphans import UNCORRELATED, OrphanKeeper
from sendtier.receipts.publisher import ReceiptPublisher
from sendtier.storage import HeldReport, TakenReport, TakenReportRepository
from smsplatform.clock import Clock
from smsplatform.contracts import Receipt
from suppliers.base import SupplierReport

log = logging.getLogger(__name__)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(SupplierReport)


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one pass over the held reports did."""

    published: int
    orphaned: int
    pending: int


class HeldReports:
    """This gateway's held reports: at most `capacity`, looked up again by `sweep`."""

    def __init__(
        self,
        *,
        repository: TakenReportRepository,
        holder: str,
        capacity: int,
        window_s: float,
        correlator: Correlator,
        publisher: ReceiptPublisher,
        orphans: OrphanKeeper,
        clock: Clock,
        metrics: GatewayMetrics,
    ) -> None:
        self._repository = repository
        self._holder = holder
        self._capacity = capacity
        self._window = timedelta(seconds=window_s)
        self._correlator = correlator
        self._publisher = publisher
        self._orphans = orphans
        self._clock = clock
        self._metrics = metrics
        self.count = 0
        # One sweep at a time: the loop's and the last one on stop must not share reports.
        self._sweeping = asyncio.Lock()

    async def load(self) -> None:
        """Count what this gateway held when it last stopped: it is swept from now on."""
        self.count = await asyncio.to_thread(self._repository.count_held, self._holder)
        self._metrics.held.set(self.count)

    def room(self) -> int:
        """How many more reports may be held."""
        return max(self._capacity - self.count, 0)

    def holding(self, taken: TakenReport, report: SupplierReport) -> TakenReport:
        """What is stored of a report held for its submit: its row carries the report."""
        return dataclasses.replace(taken, held_by=self._holder, report=_encoder.encode(report))

    def added(self, count: int) -> None:
        """`count` more reports were stored as held."""
        self.count += count
        self._metrics.held.set(self.count)

    async def sweep(self) -> SweepResult:
        """Look held reports up again: publish the found, keep the expired as orphans."""
        async with self._sweeping:
            rows = await asyncio.to_thread(self._repository.held, self._holder, self._capacity)
            by_supplier: dict[str, list[HeldReport]] = {}
            for row in rows:
                by_supplier.setdefault(row.supplier, []).append(row)
            published = orphaned = 0
            settled: list[str] = []
            for supplier, group in by_supplier.items():
                found, expired = await self._settle_group(supplier, group)
                published += len(found)
                orphaned += len(expired)
                settled.extend(found)
                settled.extend(expired)
            if settled:
                # If this fails the reports stay held: published ones may be published again.
                await asyncio.to_thread(self._repository.settle, settled)
            pending = len(rows) - len(settled)
            # Fewer rows than asked for: that was all of them, so the count is known exactly.
            self.count = (
                pending if len(rows) < self._capacity else max(self.count - len(settled), pending)
            )
            self._metrics.held.set(self.count)
            return SweepResult(published, orphaned, pending)

    async def _settle_group(
        self, supplier: str, group: Sequence[HeldReport]
    ) -> tuple[list[str], list[str]]:
        """Keys of the group's reports published now, and of those kept as orphans now."""
        reports = [_decoder.decode(row.report) for row in group]
        row_of = {id(report): row for report, row in zip(reports, group, strict=True)}
        correlation = await self._correlator.correlate(supplier, reports)
        self._metrics.count_lookups(correlation)
        found: list[str] = []
        if correlation.matched:
            receipts: list[Receipt] = [
                build_receipt(supplier, report, submit, row_of[id(report)].taken_at)
                for report, submit in correlation.matched
            ]
            if await self._publisher.publish(supplier, receipts, fate="published_late"):
                found = [row_of[id(report)].dedup_key for report, _ in correlation.matched]
        now = self._clock.now()
        expired = [
            (report, row_of[id(report)])
            for report in correlation.unmatched
            if now - row_of[id(report)].taken_at >= self._window
        ]
        pairs = [(report, row.taken_at) for report, row in expired]
        if expired and await self._orphans.keep(supplier, pairs, UNCORRELATED):
            return found, [row.dedup_key for _, row in expired]
        return found, []
