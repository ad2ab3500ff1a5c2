"""Escalation pages and their resolved messages, each claimed in the notification log.

A page is logged under the group's page key (not its own key, so the group's dedup never sees
it) for each receiver it reached. When the group resolves, every receiver whose latest sent
entry there is a page is owed one resolved message, if it asks for them (`send_resolved`);
that message is claimed like any other send, so restarts and replicas send it once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from controlplane.alerting.pipeline.delivery import Delivery
from controlplane.alerting.pipeline.groups import AggregationGroup, GroupedAlert
from controlplane.alerting.pipeline.messages import build, summary
from controlplane.alerting.pipeline.model import Receiver
from controlplane.alerting.pipeline.notification_log import (
    FAILED,
    SENT,
    Claim,
    Finished,
    LogEntry,
    NotificationLog,
    digest,
)
from controlplane.alerting.pipeline.outbox import HistoryEvent, notified_events
from controlplane.clock import Clock
from controlplane.storage import AlertRepository
from notifiers.base import AlertSummary, Notification

log = logging.getLogger(__name__)

# Sends a notification through a receiver's channels from the given one (the stage's _deliver).
Deliver = Callable[[Receiver, Notification, int], Awaitable[Delivery]]


def page_key(group_key: str) -> str:
    """Where a group's pages are logged: apart from the group's own notifications."""
    return f"page:{group_key}"


@dataclass(frozen=True)
class OwedResolution:
    """A receiver a group paged, still owed its resolved message."""

    receiver: str
    step: int  # the log step its resolved message claims
    paged: frozenset[str]  # fingerprints its pages named


class PageLog:
    """The page entries of the notification log: claims before pages, and what is owed."""

    def __init__(self, notification_log: NotificationLog) -> None:
        self._log = notification_log

    def claim_page(
        self, receiver: str, group_key: str, firing: Sequence[str], now: datetime
    ) -> LogEntry | None:
        """Claim a page of `firing` to the receiver; its fingerprints join those owed."""
        key = page_key(group_key)
        last, last_sent = self._log.latest_many([(receiver, digest(key))]).get(
            (receiver, digest(key)), (None, None)
        )
        owed = set(firing)
        if last_sent is not None and last_sent.firing:  # an earlier page of the same episode
            owed |= set(last_sent.owed)
        step = 0 if last is None else last.step + 1
        return self._claim(Claim(receiver, key, firing, (), sorted(owed), step), now)

    def owed(self, group_keys: Sequence[str]) -> dict[str, list[OwedResolution]]:
        """Per group key: the receivers whose latest sent page has had no resolved message."""
        by_hash = {digest(page_key(key)): key for key in group_keys}
        owed: dict[str, list[OwedResolution]] = {}
        for (receiver, group_hash), (last, last_sent) in self._log.latest_of(list(by_hash)).items():
            if last is None or last_sent is None or not last_sent.firing:
                continue  # never paged, or told it resolved already
            owing = OwedResolution(receiver, last.step + 1, frozenset(last_sent.owed))
            owed.setdefault(by_hash[group_hash], []).append(owing)
        return owed

    def claim_resolved(
        self, receiver: str, group_key: str, resolved: Sequence[str], step: int, now: datetime
    ) -> LogEntry | None:
        return self._claim(Claim(receiver, page_key(group_key), (), resolved, (), step), now)

    def _claim(self, claim: Claim, now: datetime) -> LogEntry | None:
        [entry] = self._log.claim_many([claim], now)
        return entry


class Pager:
    """Sends escalation pages and, when the group resolves, the resolved messages they owe."""

    def __init__(
        self,
        notification_log: NotificationLog,
        history: AlertRepository,
        receivers: Mapping[str, Receiver],
        deliver: Deliver,
        clock: Clock,
        console_url: str | None,
    ) -> None:
        self._pages = PageLog(notification_log)
        self._log = notification_log
        self._history = history
        self._receivers = receivers
        self._deliver = deliver
        self._clock = clock
        self._console_url = console_url

    async def page(
        self, group: AggregationGroup, receivers: Sequence[str], firing: Sequence[GroupedAlert]
    ) -> int:
        """Page each receiver with the group's firing alerts; returns the pages delivered."""
        alerts = [summary(g, "firing") for g in firing]
        fingerprints = [g.alert.fingerprint for g in firing]
        sent = 0
        for name in receivers:
            receiver = self._receivers.get(name)
            if receiver is None:
                log.error("escalation.unknown_receiver receiver=%s", name)
                continue
            entry = await asyncio.to_thread(
                self._pages.claim_page, name, group.key, fingerprints, self._clock.now()
            )
            if entry is not None:
                sent += await self._send(receiver, entry, group, alerts)
        return sent

    async def resolved(self, settled: Sequence[tuple[AggregationGroup, list[GroupedAlert]]]) -> int:
        """Each receiver paged for a settled group (given with its resolved alerts) that asks
        for resolved messages gets one; returns the messages delivered."""
        if not settled:
            return 0
        owed = await asyncio.to_thread(self._pages.owed, [group.key for group, _ in settled])
        sent = 0
        for group, resolved in settled:
            for owing in owed.get(group.key, []):
                receiver = self._receivers.get(owing.receiver)
                # Alerts of the group the pages named; all of its resolved ones if those left it.
                named = [g for g in resolved if g.alert.fingerprint in owing.paged] or resolved
                if receiver is None or not receiver.send_resolved or not named:
                    continue
                entry = await asyncio.to_thread(
                    self._pages.claim_resolved,
                    owing.receiver,
                    group.key,
                    [g.alert.fingerprint for g in named],
                    owing.step,
                    self._clock.now(),
                )
                if entry is not None:
                    alerts = [summary(g, "resolved") for g in named]
                    sent += await self._send(receiver, entry, group, alerts)
        return sent

    async def _send(
        self,
        receiver: Receiver,
        entry: LogEntry,
        group: AggregationGroup,
        alerts: Sequence[AlertSummary],
    ) -> int:
        notification = build(receiver.name, group.key, group.labels, alerts, self._console_url)
        delivery = await self._deliver(receiver, notification, 0)
        done_at = self._clock.now()
        status = SENT if delivery.delivered else FAILED
        finished = Finished(entry, status, delivery.channel, done_at, {"page": True})
        events = notified_events(receiver.name, group.key, alerts, delivery, False, done_at)
        await asyncio.to_thread(self._write, finished, events)
        return int(delivery.delivered)

    def _write(self, finished: Finished, events: Sequence[HistoryEvent]) -> None:
        self._log.finish_many([finished])
        self._history.record_many(events)
