"""The receipt gateway's core: check and parse a push, take its new reports, answer.

A push is answered OK only once every report it brought is on the bus or in storage: correlated
reports are published, those whose submit is not known yet are held in storage (held.py), and
if either cannot be done the supplier is told to retry later, so nothing it pushed is lost. A
report taken before (replays.py) is answered as the dialect expects but not published again.
Non-final reports (status None) are counted and go no further.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime

from sendtier.receipts.correlation import Correlator, build_receipt
from sendtier.receipts.held import HeldReports
from sendtier.receipts.metrics import GatewayMetrics
from sendtier.receipts.orphans import HELD_FULL, OrphanKeeper
from sendtier.receipts.publisher import ReceiptPublisher
from sendtier.receipts.replays import ReplayMemory
from sendtier.receipts.sources import PushSources
from sendtier.storage import TakenReport
from smsplatform.clock import Clock
from suppliers.base import CallbackReader, CallbackReply, SupplierReport

log = logging.getLogger(__name__)


class UnknownSupplier(LookupError):
    """A push for a supplier name that is not configured."""


class ReceiptGateway:
    """Takes supplier pushes in and publishes Receipts on sms.receipts."""

    def __init__(
        self,
        *,
        readers: Mapping[str, CallbackReader],
        sources: PushSources,
        replays: ReplayMemory,
        correlator: Correlator,
        publisher: ReceiptPublisher,
        held: HeldReports,
        orphans: OrphanKeeper,
        clock: Clock,
        metrics: GatewayMetrics,
    ) -> None:
        self._readers = dict(readers)
        self._sources = sources
        self._replays = replays
        self._correlator = correlator
        self._publisher = publisher
        self._held = held
        self._orphans = orphans
        self._clock = clock
        self._metrics = metrics

    @property
    def suppliers(self) -> frozenset[str]:
        return frozenset(self._readers)

    async def handle_push(
        self,
        supplier: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        client: str | None = None,
    ) -> CallbackReply:
        """Answer one push, in the supplier's dialect.

        `url` is the URL as the supplier used it; `client` the address the push came from.
        """
        reader = self._readers.get(supplier)
        if reader is None:
            self._metrics.pushes.labels("-", "unknown_supplier").inc()
            raise UnknownSupplier(supplier)
        started = time.perf_counter()
        reply = await self._handle(supplier, reader, url, headers, body, client)
        self._metrics.push_seconds.labels(supplier).observe(time.perf_counter() - started)
        return reply

    async def _handle(
        self,
        supplier: str,
        reader: CallbackReader,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        client: str | None,
    ) -> CallbackReply:
        if not self._sources.allows(supplier, client):
            return self._refuse(supplier, reader, "rejected_source", "source address not allowed")
        if not reader.verify(url, headers, body):
            return self._refuse(supplier, reader, "rejected_signature", "invalid signature")
        try:
            reports = reader.parse(url, headers, body)
        except ValueError as exc:
            return self._refuse(supplier, reader, "rejected_body", str(exc))
        received_at = self._clock.now()
        final = [report for report in reports if report.status is not None]
        if len(final) < len(reports):
            self._metrics.reports.labels(supplier, "not_final").inc(len(reports) - len(final))
        if final and not await self._take(supplier, final, received_at):
            self._metrics.pushes.labels(supplier, "retry_later").inc()
            return reader.reply_retry_later()
        self._metrics.pushes.labels(supplier, "ok").inc()
        return reader.reply_ok()

    def _refuse(
        self, supplier: str, reader: CallbackReader, outcome: str, reason: str
    ) -> CallbackReply:
        self._metrics.pushes.labels(supplier, outcome).inc()
        log.warning("event=receipts.push_refused supplier=%s outcome=%s", supplier, outcome)
        return reader.reply_rejected(reason)

    async def _take(
        self, supplier: str, reports: Sequence[SupplierReport], received_at: datetime
    ) -> bool:
        """Take the push's final reports; False when they could not all be kept."""
        try:
            claim = await self._replays.claim(supplier, reports, received_at)
        except Exception:
            log.exception("event=receipts.replay_lookup_failed supplier=%s", supplier)
            return False
        if claim.busy:
            # The same report is being taken by another push: this one comes back as a replay.
            return False
        if claim.replays:
            self._metrics.replays.labels(supplier).inc(claim.replays)
        try:
            return await self._take_fresh(supplier, claim.fresh, received_at)
        finally:
            self._replays.release(claim)

    async def _take_fresh(
        self,
        supplier: str,
        fresh: Sequence[tuple[SupplierReport, TakenReport]],
        received_at: datetime,
    ) -> bool:
        """Publish the correlated, hold the rest, remember them all; False if not all kept."""
        if not fresh:
            return True
        taken_of = {id(report): taken for report, taken in fresh}
        correlation = await self._correlator.correlate(supplier, [report for report, _ in fresh])
        self._metrics.count_lookups(correlation)
        receipts = [
            build_receipt(supplier, report, submit, received_at)
            for report, submit in correlation.matched
        ]
        if receipts and not await self._publisher.publish(supplier, receipts, "published"):
            return False
        remembered = [taken_of[id(report)] for report, _ in correlation.matched]
        unmatched = correlation.unmatched
        room = self._held.room()
        held = [self._held.holding(taken_of[id(r)], r) for r in unmatched[:room]]
        overflow = unmatched[room:]
        if overflow:
            if not await self._orphans.keep(
                supplier, [(report, received_at) for report in overflow], HELD_FULL
            ):
                return False
            remembered.extend(taken_of[id(report)] for report in overflow)
        try:
            await self._replays.remember([*remembered, *held])
        except Exception:
            log.exception(
                "event=receipts.remember_failed supplier=%s published=%d held=%d",
                supplier,
                len(receipts),
                len(held),
            )
            # Published or orphaned reports are kept; only held ones would be lost.
            return not held
        self._held.added(len(held))
        self._metrics.reports.labels(supplier, "held").inc(len(held))
        return True
