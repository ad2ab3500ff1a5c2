"""Writes the send tier's events to storage in batches, idempotently, and keeps message statuses.

Bus payloads: every send-tier publisher sends `smsplatform.contracts.encode_batch([...])`, a
msgpack list even of one event. `sms.submit` is also accepted as one bare msgpack OutboundMessage
per bus message, which is how the API publishes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from sendtier.persist.degradation import DegradationGate
from sendtier.persist.metrics import PersistServiceMetrics
from sendtier.persist.statuses import plan_status_updates
from sendtier.storage import (
    Database,
    MessageRepository,
    ReceiptRepository,
    StoredMessage,
    SubmitResultRepository,
)
from smsplatform.contracts import OutboundMessage, Receipt, SubmitResult

log = logging.getLogger(__name__)

# The event kinds this service stores: names used in durables, metrics and logs.
MESSAGES_KIND = "messages"
SUBMITS_KIND = "submits"
RECEIPTS_KIND = "receipts"

_outbound_decoder = msgspec.msgpack.Decoder(OutboundMessage | list[OutboundMessage])
_submits_decoder = msgspec.msgpack.Decoder(list[SubmitResult])
_receipts_decoder = msgspec.msgpack.Decoder(list[Receipt])


def stored_message(message: OutboundMessage) -> StoredMessage:
    """The messages row of an accepted message; its status comes later, from receipts."""
    return StoredMessage(
        id=message.message_id,
        tenant=message.tenant,
        phone=message.phone,
        carrier=message.carrier,
        message_class=message.message_class,
        template_id=message.template_id,
        content=message.content,
        segments=message.segments,
        created_at=message.accepted_at,
    )


class StorageWriters:
    """One write function per kind of event, each a batch in as few statements as it can."""

    def __init__(
        self, database: Database, gate: DegradationGate, metrics: PersistServiceMetrics
    ) -> None:
        self._messages = MessageRepository(database)
        self._submits = SubmitResultRepository(database)
        self._receipts = ReceiptRepository(database)
        self._gate = gate
        self._metrics = metrics

    # --- decoding: an undecodable payload is logged, counted and skipped (acked), never retried
    def decode_messages(self, payload: bytes) -> list[OutboundMessage]:
        decoded = self._decode(MESSAGES_KIND, _outbound_decoder, payload)
        if decoded is None:
            return []
        return decoded if isinstance(decoded, list) else [decoded]

    def decode_submits(self, payload: bytes) -> list[SubmitResult]:
        decoded = self._decode(SUBMITS_KIND, _submits_decoder, payload)
        return [] if decoded is None else decoded

    def decode_receipts(self, payload: bytes) -> list[Receipt]:
        decoded = self._decode(RECEIPTS_KIND, _receipts_decoder, payload)
        return [] if decoded is None else decoded

    def _decode(self, kind: str, decoder: msgspec.msgpack.Decoder[Any], payload: bytes) -> Any:
        try:
            return decoder.decode(payload)
        except msgspec.DecodeError as exc:
            self._metrics.undecodable.labels(kind).inc()
            log.error(
                "persist.undecodable kind=%s bytes=%d error=%s acked=true", kind, len(payload), exc
            )
            return None

    # --- writing
    def write_messages(self, messages: Sequence[OutboundMessage]) -> None:
        """Store accepted messages; statuses of receipts that came first are applied now."""
        self._metrics.batch_events.labels(MESSAGES_KIND).observe(len(messages))
        if not messages:
            return
        self._messages.add_batch([stored_message(message) for message in messages])
        self._metrics.rows_written.labels("messages").inc(len(messages))
        early = self._receipts.for_messages(message.message_id for message in messages)
        if early:
            self._apply_statuses(early)

    def write_submits(self, results: Sequence[SubmitResult]) -> None:
        """Store submit outcomes."""
        self._metrics.batch_events.labels(SUBMITS_KIND).observe(len(results))
        if not results:
            return
        self._submits.add_batch(results)
        self._metrics.rows_written.labels("submit_results").inc(len(results))

    def write_receipts(self, receipts: Sequence[Receipt]) -> None:
        """Store the receipts the degradation policy keeps, then update their messages."""
        self._metrics.batch_events.labels(RECEIPTS_KIND).observe(len(receipts))
        kept, shed = self._gate.split(receipts)
        if shed:
            level = self._gate.level()
            for message_class, count in shed.items():
                self._metrics.receipts_shed.labels(message_class, level).inc(count)
        if not kept:
            return
        self._receipts.add_batch(kept)
        self._metrics.rows_written.labels("receipts").inc(len(kept))
        self._apply_statuses(kept)

    def _apply_statuses(self, receipts: Iterable[Receipt]) -> None:
        receipts = list(receipts)
        stored = self._messages.statuses(receipt.message_id for receipt in receipts)
        plan = plan_status_updates(receipts, stored)
        changed = self._messages.set_statuses_unless_final(plan.updates)
        self._metrics.status_updates.inc(changed)
        for conflict in plan.conflicts:
            log.warning(
                "persist.status_conflict message_id=%s kept=%s refused=%s",
                conflict.message_id,
                conflict.kept,
                conflict.refused,
            )
        self._metrics.status_conflicts.inc(len(plan.conflicts))
