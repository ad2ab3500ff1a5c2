"""Finds the submit a supplier report belongs to: a bus-fed LRU index, the database for misses.

A report names its message by our id when the dialect echoes it (SUPPLIERS.md §6), otherwise
by the supplier's own id for the send; either way the submit gives the receipt its carrier,
message class and submit time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sendtier.storage import SubmitResultRepository
from smsplatform.contracts import Receipt, SubmitResult
from suppliers.base import SupplierReport

log = logging.getLogger(__name__)

# An index key: (supplier, "s", supplier message id) or (supplier, "m", our message id).
IndexKey = tuple[str, str, str]


def _by_supplier_id(supplier: str, supplier_message_id: str) -> IndexKey:
    return (supplier, "s", supplier_message_id)


def _by_message_id(supplier: str, message_id: str) -> IndexKey:
    return (supplier, "m", message_id)


class CorrelationIndex:
    """The most recent accepted submits, by supplier id and by our id; least recent evicted."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._submits: OrderedDict[IndexKey, SubmitResult] = OrderedDict()

    def __len__(self) -> int:
        return len(self._submits)

    def remember(self, results: Iterable[SubmitResult]) -> int:
        """Index the accepted results (others have no receipt coming); returns how many."""
        added = 0
        for result in results:
            if not result.accepted:
                continue
            self._put(_by_message_id(result.supplier, result.message_id), result)
            if result.supplier_message_id:
                self._put(_by_supplier_id(result.supplier, result.supplier_message_id), result)
            added += 1
        return added

    def find(self, supplier: str, report: SupplierReport) -> SubmitResult | None:
        """The submit this report is about, if the index holds it."""
        if report.message_id:
            found = self._submits.get(_by_message_id(supplier, report.message_id))
            if found is not None:
                return found
        if report.recipient_id:
            found = self._submits.get(_by_supplier_id(supplier, report.recipient_id))
            if found is not None:
                return found
        return self._submits.get(_by_supplier_id(supplier, report.supplier_message_id))

    def _put(self, key: IndexKey, result: SubmitResult) -> None:
        self._submits[key] = result
        self._submits.move_to_end(key)
        while len(self._submits) > self._capacity:
            self._submits.popitem(last=False)


@dataclass
class Correlation:
    """Reports of one push (or one retry pass) split by whether their submit was found."""

    matched: list[tuple[SupplierReport, SubmitResult]] = field(default_factory=list)
    unmatched: list[SupplierReport] = field(default_factory=list)
    from_index: int = 0
    from_database: int = 0


class Correlator:
    """Looks reports up in the index first, then the misses in the database in one query each."""

    def __init__(self, index: CorrelationIndex, submits: SubmitResultRepository) -> None:
        self.index = index
        self._submits = submits

    async def correlate(self, supplier: str, reports: Sequence[SupplierReport]) -> Correlation:
        """Match each report to its accepted submit; the database is read only for misses."""
        correlation = Correlation()
        misses: list[SupplierReport] = []
        for report in reports:
            submit = self.index.find(supplier, report)
            if submit is None:
                misses.append(report)
            else:
                correlation.matched.append((report, submit))
        correlation.from_index = len(correlation.matched)
        if not misses:
            return correlation
        try:
            by_message, by_supplier_id = await asyncio.to_thread(self._lookup, supplier, misses)
        except Exception:
            # The database is down: the misses are held (or their push retried) and looked up again.
            log.exception("receipts.correlation lookup failed supplier=%s", supplier)
            by_message, by_supplier_id = {}, {}
        for report in misses:
            submit = by_message.get(report.message_id) if report.message_id else None
            if submit is None and report.recipient_id:
                submit = by_supplier_id.get(report.recipient_id)
            if submit is None:
                submit = by_supplier_id.get(report.supplier_message_id)
            if submit is None:
                correlation.unmatched.append(report)
            else:
                correlation.matched.append((report, submit))
                correlation.from_database += 1
        # Found in the database: keep them at hand for the next report of the same message.
        self.index.remember(submit for _, submit in correlation.matched[correlation.from_index :])
        return correlation

    def _lookup(
        self, supplier: str, reports: Sequence[SupplierReport]
    ) -> tuple[dict[str, SubmitResult], dict[str, SubmitResult]]:
        echoed = [report.message_id for report in reports if report.message_id]
        by_message = self._submits.find_accepted_for_messages(supplier, echoed) if echoed else {}
        supplier_ids = [
            key
            for report in reports
            if not (report.message_id and report.message_id in by_message)
            for key in (report.recipient_id, report.supplier_message_id)
            if key
        ]
        by_supplier_id = (
            self._submits.find_by_supplier_ids(supplier, supplier_ids) if supplier_ids else {}
        )
        return by_message, by_supplier_id


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
