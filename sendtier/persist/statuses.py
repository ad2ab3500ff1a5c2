"""Which receipt sets a message's last status: the first final status wins (SUPPLIERS.md §7.1)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sendtier.storage.messages import FINAL_STATUSES
from smsplatform.contracts import Receipt

UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class StatusConflict:
    """A final status that arrived after another final one for the same message: refused."""

    message_id: str
    kept: str
    refused: str


@dataclass(frozen=True, slots=True)
class StatusPlan:
    """What to write to messages.last_status for one batch of receipts."""

    # (message id, status, reported at), at most one per message.
    updates: list[tuple[str, str, datetime]] = field(default_factory=list)
    conflicts: list[StatusConflict] = field(default_factory=list)
    # Receipts of messages not stored (yet): their status is set when the message is written.
    missing: list[str] = field(default_factory=list)


def plan_status_updates(
    receipts: Iterable[Receipt], stored: Mapping[str, str | None]
) -> StatusPlan:
    """The status changes `receipts` make to messages whose last status is `stored`.

    A final status (DELIVERED, FAILED, EXPIRED, REJECTED) is never replaced; among finals of
    one batch the first the gateway took wins, as it does across batches. That is the
    receipt's `received_at` (our clock), not its report time: a report's own claim to be
    earlier cannot put it first, and the outcome does not depend on the order within a batch.
    UNKNOWN (no report in 72 h) is replaced by any final, and set only on a message without a
    status.
    """
    by_message: dict[str, list[Receipt]] = {}
    for receipt in receipts:
        by_message.setdefault(receipt.message_id, []).append(receipt)
    plan = StatusPlan()
    for message_id, group in by_message.items():
        if message_id not in stored:
            plan.missing.append(message_id)
            continue
        current = stored[message_id]
        finals = sorted((r for r in group if r.status in FINAL_STATUSES), key=_taken_order)
        if current in FINAL_STATUSES:
            kept = current
        elif finals:
            kept = finals[0].status
            plan.updates.append((message_id, kept, finals[0].reported_at))
        else:
            unknowns = [r for r in group if r.status == UNKNOWN]
            if unknowns and current != UNKNOWN:
                first = min(unknowns, key=lambda r: r.reported_at)
                plan.updates.append((message_id, UNKNOWN, first.reported_at))
            continue
        refused = sorted({r.status for r in finals if r.status != kept})
        plan.conflicts.extend(StatusConflict(message_id, kept, status) for status in refused)
    return plan


def _taken_order(receipt: Receipt) -> tuple[datetime, datetime, str]:
    """When the gateway took it (receipts without that time: when reported), ties by report."""
    return (receipt.received_at or receipt.reported_at, receipt.reported_at, receipt.status)
