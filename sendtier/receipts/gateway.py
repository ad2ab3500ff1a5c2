"""The receipt gateway's core: verify and parse a push, correlate it, publish Receipts, answer.

A push is answered OK only once its receipts are on the bus; if the bus refuses them the
supplier is told to retry later, so nothing it pushed is lost. Under the degradation level
`sample` only a weighted sample of marketing receipts is published (sampling.py); the rest are
counted. Reports whose submit is not known yet wait in a retry buffer and end as stored orphans
if it never turns up: kept and counted. Non-final reports (status None) are counted and go no
further.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from controlplane.bus import RECEIPTS, Bus
from controlplane.clock import Clock
from controlplane.contracts import Receipt, SubmitResult, encode_batch
from controlplane.storage import OrphanReceipt, OrphanReceiptRepository
from sendtier.receipts.correlation import Correlator
from sendtier.receipts.metrics import GatewayMetrics
from sendtier.receipts.retry_buffer import PendingReport, RetryBuffer
from sendtier.receipts.sampling import ReceiptSampler
from sendtier.suppliers.base import CallbackReader, CallbackReply, SupplierReport

log = logging.getLogger(__name__)

# Orphan reasons: no submit found in the window; no room to wait; the gateway stopped first.
UNCORRELATED: Final = "uncorrelated"
BUFFER_FULL: Final = "buffer_full"
SHUTDOWN: Final = "shutdown"


class UnknownSupplier(LookupError):
    """A push for a supplier name that is not configured."""


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one pass over the retry buffer did."""

    published: int
    orphaned: int
    pending: int


def build_receipt(
    supplier: str, report: SupplierReport, submit: SubmitResult, received_at: datetime
) -> Receipt:
    """The Receipt of a final report: what the submit knows plus what the supplier reported."""
    assert report.status is not None, "only final reports become receipts"
    return Receipt(
        message_id=submit.message_id,
        supplier=supplier,
        carrier=submit.carrier,
        message_class=submit.message_class,
        status=report.status,
        submitted_at=submit.at,
        # A dialect without a report time (or a push without one): when we heard of it.
        reported_at=report.reported_at or received_at,
        raw_status=report.raw_status,
        error_code=report.error_code,
        received_at=received_at,
    )


def orphan_of(pending: PendingReport, reason: str) -> OrphanReceipt:
    """The stored form of a report no submit was found for."""
    report = pending.report
    fields = dict(report.extra)
    if report.phone:
        fields["phone"] = report.phone
    return OrphanReceipt(
        supplier=pending.supplier,
        supplier_message_id=report.supplier_message_id,
        raw_status=report.raw_status,
        received_at=pending.received_at,
        reason=reason,
        message_id=report.message_id,
        status=report.status,
        error_code=report.error_code,
        reported_at=report.reported_at,
        fields=fields,
    )


class ReceiptGateway:
    """Takes supplier pushes in and publishes Receipts on sms.receipts."""

    def __init__(
        self,
        *,
        bus: Bus,
        readers: Mapping[str, CallbackReader],
        correlator: Correlator,
        orphans: OrphanReceiptRepository,
        buffer: RetryBuffer,
        retry_window_s: float,
        clock: Clock,
        metrics: GatewayMetrics,
        sampler: ReceiptSampler,
    ) -> None:
        self._bus = bus
        self._sampler = sampler
        self._readers = dict(readers)
        self._correlator = correlator
        self._orphans = orphans
        self._buffer = buffer
        self._retry_window_s = retry_window_s
        self._clock = clock
        self._metrics = metrics
        # One sweep at a time: the loop's and the final one on stop must not share reports.
        self._sweeping = asyncio.Lock()

    @property
    def suppliers(self) -> frozenset[str]:
        return frozenset(self._readers)

    @property
    def pending(self) -> int:
        """Reports waiting in the retry buffer."""
        return len(self._buffer)

    async def handle_push(
        self, supplier: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> CallbackReply:
        """Answer one push, in the supplier's dialect; `url` is the URL as the supplier used it."""
        reader = self._readers.get(supplier)
        if reader is None:
            self._metrics.pushes.labels("-", "unknown_supplier").inc()
            raise UnknownSupplier(supplier)
        started = time.perf_counter()
        reply = await self._handle(supplier, reader, url, headers, body)
        self._metrics.push_seconds.labels(supplier).observe(time.perf_counter() - started)
        return reply

    async def _handle(
        self,
        supplier: str,
        reader: CallbackReader,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> CallbackReply:
        if not reader.verify(url, headers, body):
            self._metrics.pushes.labels(supplier, "rejected_signature").inc()
            log.warning("receipts.push rejected supplier=%s reason=signature", supplier)
            return reader.reply_rejected("invalid signature")
        try:
            reports = reader.parse(url, headers, body)
        except ValueError as exc:
            self._metrics.pushes.labels(supplier, "rejected_body").inc()
            log.warning("receipts.push rejected supplier=%s reason=body error=%r", supplier, exc)
            return reader.reply_rejected(str(exc))
        received_at = self._clock.now()
        final = [report for report in reports if report.status is not None]
        if len(final) < len(reports):
            self._metrics.reports.labels(supplier, "not_final").inc(len(reports) - len(final))
        correlation = await self._correlator.correlate(supplier, final)
        self._count_lookups(
            correlation.from_index, correlation.from_database, len(correlation.unmatched)
        )
        receipts = [
            build_receipt(supplier, report, submit, received_at)
            for report, submit in correlation.matched
        ]
        if receipts and not await self._publish(supplier, receipts):
            self._metrics.pushes.labels(supplier, "retry_later").inc()
            return reader.reply_retry_later()
        if correlation.unmatched and not await self._hold(
            supplier, correlation.unmatched, received_at
        ):
            self._metrics.pushes.labels(supplier, "retry_later").inc()
            return reader.reply_retry_later()
        self._metrics.pushes.labels(supplier, "ok").inc()
        log.debug(
            "receipts.push supplier=%s reports=%d published=%d held=%d",
            supplier,
            len(reports),
            len(receipts),
            len(correlation.unmatched),
        )
        return reader.reply_ok()

    async def _publish(
        self, supplier: str, receipts: list[Receipt], fate: str = "published"
    ) -> bool:
        """Publish what the degradation policy lets through; False if the bus refused it."""
        sampled = self._sampler.apply(receipts)
        try:
            if sampled.publish:
                await self._bus.publish(RECEIPTS, encode_batch(sampled.publish))
        except Exception as exc:
            self._metrics.publish_failures.inc()
            log.error(
                "receipts.publish failed supplier=%s receipts=%d error=%r",
                supplier,
                len(receipts),
                exc,
            )
            return False
        self._metrics.reports.labels(supplier, fate).inc(len(sampled.publish))
        self._metrics.count_receipts(supplier, receipts)
        for message_class, count in sampled.unsampled.items():
            self._metrics.unsampled.labels(supplier, message_class).inc(count)
        return True

    async def _hold(
        self, supplier: str, reports: Sequence[SupplierReport], received_at: datetime
    ) -> bool:
        """Put uncorrelated reports in the retry buffer; False if they could not be kept."""
        now = self._clock.monotonic()
        pending = [PendingReport(supplier, report, received_at, now) for report in reports]
        room = self._buffer.room()
        overflow = pending[room:]
        if overflow and not await self._store_orphans(overflow, BUFFER_FULL):
            return False
        self._buffer.add(pending[:room])
        self._metrics.reports.labels(supplier, "held").inc(len(pending) - len(overflow))
        self._metrics.retry_buffer.set(len(self._buffer))
        return True

    async def sweep(self, *, final: bool = False) -> SweepResult:
        """Look held reports up again: publish the found, keep the expired as orphans.

        `final` (on stop) keeps every report still unknown as an orphan, expired or not.
        """
        async with self._sweeping:
            held = self._buffer.take_all()
            published = orphaned = 0
            keep: list[PendingReport] = []
            by_supplier: dict[str, list[PendingReport]] = {}
            for pending in held:
                by_supplier.setdefault(pending.supplier, []).append(pending)
            expired: dict[str, list[PendingReport]] = {}
            now = self._clock.monotonic()
            for supplier, group in by_supplier.items():
                found, missing = await self._retry(supplier, group)
                if found:
                    receipts = [
                        build_receipt(supplier, p.report, s, p.received_at) for p, s in found
                    ]
                    if await self._publish(supplier, receipts, fate="published_late"):
                        published += len(receipts)
                    else:
                        keep.extend(pending for pending, _ in found)
                for pending in missing:
                    if now - pending.held_since >= self._retry_window_s:
                        expired.setdefault(UNCORRELATED, []).append(pending)
                    elif final:
                        expired.setdefault(SHUTDOWN, []).append(pending)
                    else:
                        keep.append(pending)
            for reason, orphans in expired.items():
                if await self._store_orphans(orphans, reason):
                    orphaned += len(orphans)
                else:
                    keep.extend(orphans)
            self._buffer.put_back(keep)
            self._metrics.retry_buffer.set(len(self._buffer))
            return SweepResult(published=published, orphaned=orphaned, pending=len(keep))

    async def _retry(
        self, supplier: str, group: list[PendingReport]
    ) -> tuple[list[tuple[PendingReport, SubmitResult]], list[PendingReport]]:
        by_report = {id(pending.report): pending for pending in group}
        correlation = await self._correlator.correlate(
            supplier, [pending.report for pending in group]
        )
        self._count_lookups(
            correlation.from_index, correlation.from_database, len(correlation.unmatched)
        )
        found = [(by_report[id(report)], submit) for report, submit in correlation.matched]
        missing = [by_report[id(report)] for report in correlation.unmatched]
        return found, missing

    async def _store_orphans(self, pending: list[PendingReport], reason: str) -> bool:
        orphans = [orphan_of(item, reason) for item in pending]
        try:
            await asyncio.to_thread(self._orphans.add_batch, orphans)
        except Exception:
            log.exception(
                "receipts.orphans store failed reports=%d reason=%s", len(orphans), reason
            )
            return False
        for item in pending:
            self._metrics.orphans.labels(item.supplier, reason).inc()
            self._metrics.reports.labels(item.supplier, "orphaned").inc()
            log.info(
                "receipts.orphan supplier=%s supplier_message_id=%s message_id=%s status=%s "
                "reason=%s",
                item.supplier,
                item.report.supplier_message_id,
                item.report.message_id,
                item.report.status,
                reason,
            )
        return True

    def _count_lookups(self, from_index: int, from_database: int, missed: int) -> None:
        for source, count in (("index", from_index), ("database", from_database), ("miss", missed)):
            if count:
                self._metrics.correlations.labels(source).inc(count)
