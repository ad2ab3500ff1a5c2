"""What a flush sends: pending group states, the planner's sends, their claims and history.

Pure helpers of the stage's send step: turning each receiver's queue into planned messages
(single, digest, or diverted past a spent channel), the log claims those need, and the history
lines a sent notification leaves on each of its alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controlplane.alerting.pipeline.delivery import Delivery, channel_name
from controlplane.alerting.pipeline.groups import AggregationGroup, GroupedAlert
from controlplane.alerting.pipeline.model import Receiver
from controlplane.alerting.pipeline.notification_log import FAILED, SENT, Claim, Finished
from controlplane.alerting.pipeline.ratelimit import DigestPlanner
from notifiers.base import AlertSummary

log = logging.getLogger(__name__)


@dataclass
class Pending:
    """A group notification that dedup let through, waiting for its send (or its digest)."""

    group: AggregationGroup
    firing: tuple[GroupedAlert, ...]
    resolved: tuple[GroupedAlert, ...]
    owed: frozenset[str]
    step: int

    @property
    def critical(self) -> bool:
        return any(a.alert.labels.get("severity") == "critical" for a in self.firing)


@dataclass(frozen=True)
class PlannedSend:
    """One message the planner lets out now: one group's state, or a digest of several."""

    receiver: Receiver
    items: tuple[Pending, ...]
    start: int  # the receiver's channel to begin with (1: a critical diverted past the first)


# (alert fingerprint, when, kind, detail): one line of an alert's history.
HistoryEvent = tuple[str, datetime, str, Mapping[str, Any]]


@dataclass(frozen=True)
class SendOutcome:
    """What one send leaves to write: its log rows' outcome and the alerts' history lines."""

    delivered: bool
    finished: list[Finished]
    events: list[HistoryEvent]


def plan_sends(
    queues: dict[str, dict[str, Pending]],
    receivers: Mapping[str, Receiver],
    planner: DigestPlanner,
    monotonic_now: float,
) -> list[PlannedSend]:
    """Each receiver's queue through its digest planner: what goes out now, and how.

    Items the planner holds stay in their queue for a later flush.
    """
    sends: list[PlannedSend] = []
    for receiver_name, queue in queues.items():
        receiver = receivers.get(receiver_name)
        if receiver is None or not receiver.channels:
            log.error("notify.unknown_receiver receiver=%s dropped=%d", receiver_name, len(queue))
            queue.clear()
            continue
        first = receiver.channels[0]
        items = list(queue.values())
        # A critical alert that would wait leaves on the next channel; with no next channel it
        # waits for the first channel's next digest like the rest (diverting would fail it).
        can_divert = len(receiver.channels) > 1
        plan = planner.plan(
            f"{receiver_name}/{channel_name(first)}",
            first.budget,
            items,
            [item.critical and can_divert for item in items],
            monotonic_now,
        )
        queue.clear()
        queue.update({item.group.key: item for item in plan.hold})
        sends += [PlannedSend(receiver, (item,), 0) for item in plan.alone]
        if plan.digest:
            sends.append(PlannedSend(receiver, plan.digest, 0))
        sends += [PlannedSend(receiver, (item,), 1) for item in plan.divert]
    return sends


def batches(
    sends: Sequence[PlannedSend], first: int, largest: int
) -> Iterator[Sequence[PlannedSend]]:
    """The sends in batches of `first`, then each twice the last, up to `largest`."""
    start, size = 0, first
    while start < len(sends):
        yield sends[start : start + size]
        start += size
        size = min(size * 2, largest)


def claims_of(sends: Sequence[PlannedSend]) -> list[Claim]:
    """The log claim of every group state the sends carry, in order."""
    return [
        Claim(
            send.receiver.name,
            item.group.key,
            [g.alert.fingerprint for g in item.firing],
            [g.alert.fingerprint for g in item.resolved],
            sorted(item.owed),
            item.step,
        )
        for send in sends
        for item in send.items
    ]


def notified_events(
    receiver: str,
    group_key: str,
    alerts: Sequence[AlertSummary],
    delivery: Delivery,
    is_digest: bool,
    done_at: datetime,
) -> list[HistoryEvent]:
    """Log a notification; returns the history line of each alert it carried."""
    status = SENT if delivery.delivered else FAILED
    log.info(
        "notify.%s receiver=%s group=%s channel=%s alerts=%d digest=%s",
        status,
        receiver,
        group_key,
        delivery.channel,
        len(alerts),
        is_digest,
    )
    return [
        (
            alert.fingerprint,
            done_at,
            "notification",
            {
                "receiver": receiver,
                "channel": delivery.channel,
                "status": alert.status,
                "outcome": status,
                "digest": is_digest,
            },
        )
        for alert in alerts
    ]
