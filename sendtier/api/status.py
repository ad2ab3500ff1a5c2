"""A message's life as the tenant sees it: accepted, submitted (supplier, attempt), receipts."""

from __future__ import annotations

from typing import Any

from sendtier.storage import (
    Database,
    MessageRepository,
    ReceiptRepository,
    StoredMessage,
    SubmitResultRepository,
)
from smsplatform.contracts import Receipt, SubmitResult


def life_status(stored: StoredMessage, submits: list[SubmitResult], receipts: list[Receipt]) -> str:
    """One word for where the message is: a receipt status once there is one, else how far the
    send got ("submitted", "submit_failed" while no supplier took it, or "accepted")."""
    if receipts:
        return stored.last_status or receipts[-1].status
    if any(submit.accepted for submit in submits):
        return "submitted"
    return "submit_failed" if submits else "accepted"


class MessageStatusView:
    """Reads a message and its events from what persistence stored.

    Persistence writes a message after it reads it from `sms.submit`, so a message just accepted
    is not found for a moment (typically well under a second): callers answer 404 until then.
    """

    def __init__(self, database: Database) -> None:
        self._messages = MessageRepository(database)
        self._submits = SubmitResultRepository(database)
        self._receipts = ReceiptRepository(database)

    def find(self, tenant: str, message_id: str) -> dict[str, Any] | None:
        """The message's life, or None when the tenant has no message with this id (yet)."""
        stored = self._messages.get(message_id)
        if stored is None or stored.tenant != tenant:
            return None
        submits = self._submits.for_message(message_id)
        receipts = self._receipts.for_message(message_id)
        return {
            "message_id": stored.id,
            "status": life_status(stored, submits, receipts),
            "phone": stored.phone,
            "carrier": stored.carrier,
            "message_class": stored.message_class,
            "template_id": stored.template_id,
            "content": stored.content,
            "segments": stored.segments,
            "accepted_at": stored.created_at,
            "updated_at": stored.updated_at,
            "submits": [
                {
                    "supplier": s.supplier,
                    "attempt": s.attempt,
                    "accepted": s.accepted,
                    "at": s.at,
                    "latency_ms": s.latency_ms,
                    "error_code": s.error_code,
                    "error_class": s.error_class,
                    "supplier_message_id": s.supplier_message_id,
                }
                for s in submits
            ],
            "receipts": [
                {
                    "status": r.status,
                    "supplier": r.supplier,
                    "submitted_at": r.submitted_at,
                    "reported_at": r.reported_at,
                    "received_at": r.received_at,
                    "raw_status": r.raw_status,
                    "error_code": r.error_code,
                }
                for r in receipts
            ],
        }
