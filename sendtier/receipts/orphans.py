"""Keeps supplier reports no submit of ours was found for: stored, counted and logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sendtier.receipts.metrics import GatewayMetrics
from sendtier.storage import OrphanReceipt, OrphanReceiptRepository
from suppliers.base import SupplierReport

log = logging.getLogger(__name__)

# Orphan reasons: no submit found in the window; no room to hold it while waiting.
UNCORRELATED: Final = "uncorrelated"
HELD_FULL: Final = "held_full"


def orphan_of(
    supplier: str, report: SupplierReport, received_at: datetime, reason: str
) -> OrphanReceipt:
    """The stored form of a report no submit was found for."""
    fields = dict(report.extra)
    if report.phone:
        fields["phone"] = report.phone
    return OrphanReceipt(
        supplier=supplier,
        supplier_message_id=report.supplier_message_id,
        raw_status=report.raw_status,
        received_at=received_at,
        reason=reason,
        message_id=report.message_id,
        status=report.status,
        error_code=report.error_code,
        reported_at=report.reported_at,
        fields=fields,
    )


class OrphanKeeper:
    """Stores orphans in one batch per call; False when storage refused them."""

    def __init__(self, orphans: OrphanReceiptRepository, metrics: GatewayMetrics) -> None:
        self._orphans = orphans
        self._metrics = metrics

    async def keep(
        self,
        supplier: str,
        reports: Sequence[tuple[SupplierReport, datetime]],
        reason: str,
    ) -> bool:
        """Store (report, received at) pairs of one supplier as orphans for `reason`."""
        orphans = [orphan_of(supplier, report, at, reason) for report, at in reports]
        try:
            await asyncio.to_thread(self._orphans.add_batch, orphans)
        except Exception:
            log.exception(
                "event=receipts.orphans_store_failed supplier=%s reports=%d reason=%s",
                supplier,
                len(orphans),
                reason,
            )
            return False
        self._metrics.orphans.labels(supplier, reason).inc(len(orphans))
        self._metrics.reports.labels(supplier, "orphaned").inc(len(orphans))
        for orphan in orphans:
            log.info(
                "event=receipts.orphan supplier=%s supplier_message_id=%s message_id=%s "
                "status=%s reason=%s",
                supplier,
                orphan.supplier_message_id,
                orphan.message_id,
                orphan.status,
                reason,
            )
        return True
