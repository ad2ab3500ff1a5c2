"""Publishes correlated receipts on sms.receipts, as much as the degradation policy lets through.

Under the degradation level `sample` only a weighted sample of marketing receipts is published
(sampling.py); the rest are counted. Every receipt is counted by carrier and status either way.

A batch goes out under a message id made of its reports' identities (supplier, message,
status), so the bus drops the same reports published again within its dedup window: a push the
supplier retries because the bus's answer was lost (we said retry later, yet the bus held it),
or held reports published again because settling them failed. The replay memory (replays.py)
answers the replays it knows; this covers those it could not learn of.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import orjson

from sendtier.receipts.metrics import GatewayMetrics
from sendtier.receipts.sampling import ReceiptSampler
from smsplatform.bus import RECEIPTS, Bus
from smsplatform.contracts import Receipt, encode_batch

log = logging.getLogger(__name__)


def receipts_msg_id(receipts: Sequence[Receipt]) -> str:
    """The bus message id of a batch: the same reports, in any order, get the same id."""
    identities = sorted((r.supplier, r.message_id, r.status) for r in receipts)
    digest = hashlib.blake2b(orjson.dumps(identities), digest_size=16).hexdigest()
    return f"{RECEIPTS}:{digest}"


class ReceiptPublisher:
    """One publish per batch of one supplier's receipts; False when the bus refused it."""

    def __init__(self, bus: Bus, sampler: ReceiptSampler, metrics: GatewayMetrics) -> None:
        self._bus = bus
        self._sampler = sampler
        self._metrics = metrics

    async def publish(self, supplier: str, receipts: list[Receipt], fate: str) -> bool:
        """Publish what the policy lets through; `fate` labels them (published, published_late)."""
        sampled = self._sampler.apply(receipts)
        try:
            if sampled.publish:
                await self._bus.publish(
                    RECEIPTS,
                    encode_batch(sampled.publish),
                    msg_id=receipts_msg_id(sampled.publish),
                )
        except Exception as exc:
            self._metrics.publish_failures.inc()
            log.error(
                "event=receipts.publish_failed supplier=%s receipts=%d error=%r",
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
