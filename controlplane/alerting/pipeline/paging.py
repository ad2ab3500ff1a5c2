"""Escalation pages, their retries and their resolved messages, each claimed in the log.

A page is logged under the group's page key (not its own key, so the group's dedup never sees
it) for each receiver it reached. A page that reached nobody (it failed, or the process sending
it died) is paged again (see page_retry) while the group escalates; a later step of the chain
paging the receiver logs a newer entry, so the retry it supersedes is never sent. When the group
resolves, every receiver whose latest sent entry there is a page is owed one resolved message, if
it asks for them (`send_resolved`); that message is claimed like any other send, so restarts and
replicas send it once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controlplane.alerting.escalation import Episode
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
    notification_id,
)
from controlplane.alerting.pipeline.outbox import HistoryEvent, notified_events
from controlplane.alerting.pipeline.page_retry import (
    FailedPage,
    PageRetry,
    due_retries,
    is_failed_page,
)
from controlplane.storage import AlertRepository
from notifiers.base import AlertSummary, Notification
from smsplatform.clock import Clock

log = logging.getLogger(__name__)

# Sends a notification through a receiver's channels from the given one, for the escalation
# episode given (if any; the stage's _deliver).
Deliver = Callable[[Receiver, Notification, int, int | None], Awaitable[Delivery]]
# How often the log is read for the failed pages of every escalating group (it is read at once
# after this process pages, and again for a group before its retry is claimed): a page that
# failed on another replica is found within this, without a scan of the log every tick.
FAILED_PAGES_RESCAN_S = 10.0


def page_key(group_key: str) -> str:
    """Where a group's pages are logged: apart from the group's own notifications."""
    return f"page:{group_key}"


@dataclass(frozen=True)
class Paging:
    """A group held in memory, and the firing alerts a page of it names (none muted)."""

    group: AggregationGroup
    firing: Sequence[GroupedAlert]


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
        step = 0 if last is None else last.step + 1
        return self._claim(Claim(receiver, key, firing, (), _owed(firing, last_sent), step), now)

    def failed_pages(self, group_keys: Sequence[str]) -> list[FailedPage]:
        """The receivers whose latest page of one of the groups reached nobody."""
        by_hash = {digest(page_key(key)): key for key in group_keys}
        return [
            FailedPage(by_hash[group_hash], last, last_sent)
            for (_, group_hash), (last, last_sent) in self._log.latest_of(list(by_hash)).items()
            if last is not None and is_failed_page(last)
        ]

    def claim_retry(
        self, page: FailedPage, firing: Sequence[str], now: datetime
    ) -> LogEntry | None:
        """Claim paging `firing` again in place of the failed page: the claim takes the failed
        page's state and the step after it, so every replica (and a restarted process) claims
        the same key for the same retry, and only one sends it."""
        failed = page.failed
        claim = Claim(
            failed.receiver,
            page_key(page.group_key),
            failed.firing,
            (),
            _owed(firing, page.last_sent),
            failed.step + 1,
        )
        return self._claim(claim, now)

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


def _owed(firing: Sequence[str], last_sent: LogEntry | None) -> list[str]:
    """The alerts a page leaves owed a resolved message: its own, and an earlier page's."""
    owed = set(firing)
    if last_sent is not None and last_sent.firing:  # an earlier page of the same episode
        owed |= set(last_sent.owed)
    return sorted(owed)


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
        retry: PageRetry,
    ) -> None:
        self._pages = PageLog(notification_log)
        self._log = notification_log
        self._history = history
        self._receivers = receivers
        self._deliver = deliver
        self._clock = clock
        self._console_url = console_url
        self._retry = retry
        # The failed pages last read from the log, for the groups in `_scanned_keys`.
        self._failed: list[FailedPage] = []
        self._scanned_keys: frozenset[str] = frozenset()
        self._scanned_at: float | None = None  # monotonic; None: read at the next tick

    async def page(
        self,
        group: AggregationGroup,
        receivers: Sequence[str],
        firing: Sequence[GroupedAlert],
        episode_id: int,
    ) -> int:
        """Page each receiver with the group's firing alerts for the episode; returns the pages
        delivered."""
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
                sent += await self._send(receiver, entry, group, alerts, episode_id)
        return sent

    async def retry_failed(
        self, paging: Mapping[str, Episode], paging_of: Callable[[str], Paging | None]
    ) -> int:
        """Page again each receiver whose page of a group reached nobody (failed, or abandoned
        by a process that died) and whose wait is over; returns the retries delivered.

        `paging` holds the groups that may page now (escalating, not muted) with their episode;
        `paging_of` gives a group held here with the alerts a page names.
        """
        if not paging:
            return 0
        escalating_since = {key: episode.started_at for key, episode in paging.items()}
        now = self._clock.now()
        sent = 0
        for page in await self._due_retries(escalating_since, now):
            receiver = self._receivers.get(page.failed.receiver)
            held = paging_of(page.group_key)
            if receiver is None or held is None or not held.firing:
                continue  # unknown receiver, or nothing to page now (muted alerts wait)
            fingerprints = [g.alert.fingerprint for g in held.firing]
            entry = await asyncio.to_thread(self._pages.claim_retry, page, fingerprints, now)
            if entry is None:
                continue  # another replica, or this process before a restart, retried it
            log.info(
                "escalation.page_retry group_key=%s receiver=%s retry=%d reason=%s",
                page.group_key,
                receiver.name,
                page.failures,
                "page_abandoned" if page.abandoned else "page_failed",
            )
            alerts = [summary(g, "firing") for g in held.firing]
            episode_id = paging[page.group_key].id
            # An abandoned page may have gone out before its process died: its retry is sent as
            # that same message, so a channel that deduplicates (alert SMS) sends it once.
            same_as = page.failed if page.abandoned else entry
            sent += await self._send(
                receiver, entry, held.group, alerts, episode_id, page.failures, same_as
            )
        return sent

    async def _due_retries(
        self, escalating_since: Mapping[str, datetime], now: datetime
    ) -> list[FailedPage]:
        """The failed pages whose retry is due now, as the log has them right before the claim
        (so a step another replica just sent is seen to supersede the retry)."""
        monotonic = self._clock.monotonic()
        if (
            self._scanned_at is None
            or monotonic - self._scanned_at >= FAILED_PAGES_RESCAN_S
            or not self._scanned_keys.issuperset(escalating_since)
        ):
            keys = list(escalating_since)
            self._failed = await asyncio.to_thread(self._pages.failed_pages, keys)
            self._scanned_keys, self._scanned_at = frozenset(keys), monotonic
            return due_retries(self._failed, escalating_since, self._retry, now)
        due = due_retries(self._failed, escalating_since, self._retry, now)
        if not due:
            return []
        keys = sorted({page.group_key for page in due})
        fresh = await asyncio.to_thread(self._pages.failed_pages, keys)
        return due_retries(fresh, escalating_since, self._retry, now)

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
                    sent += await self._send(receiver, entry, group, alerts, None)
        return sent

    async def _send(
        self,
        receiver: Receiver,
        entry: LogEntry,
        group: AggregationGroup,
        alerts: Sequence[AlertSummary],
        episode_id: int | None,
        retry: int | None = None,
        same_as: LogEntry | None = None,
    ) -> int:
        """Deliver and record the log entry's outcome and a history line on each alert (a
        retry's say which retry it is); the message is known as `same_as`'s (default: the
        entry's own)."""
        notification = build(
            receiver.name,
            group.key,
            group.labels,
            alerts,
            self._console_url,
            notification_id=notification_id(same_as or entry),
        )
        delivery = await self._deliver(receiver, notification, 0, episode_id)
        done_at = self._clock.now()
        status = SENT if delivery.delivered else FAILED
        retried: dict[str, Any] = {} if retry is None else {"retry": retry}
        finished = Finished(entry, status, delivery.channel, done_at, {"page": True, **retried})
        events = [
            (fingerprint, at, kind, {**detail, **retried})
            for fingerprint, at, kind, detail in notified_events(
                receiver.name, group.key, alerts, delivery, False, done_at
            )
        ]
        await asyncio.to_thread(self._write, finished, events)
        self._scanned_at = None  # the log's pages changed: read them again at the next tick
        return int(delivery.delivered)

    def _write(self, finished: Finished, events: Sequence[HistoryEvent]) -> None:
        self._log.finish_many([finished])
        self._history.record_many(events)
