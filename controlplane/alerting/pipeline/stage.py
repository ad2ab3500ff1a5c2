"""The alerting stage: inhibit → silence → group/wait → dedup → notify/fallback → record → escalate.

`deliver` takes the engine's notices (and `receive` the alerts posted to the API) and only
updates the groups; `tick(now)`, called by the scheduler when a group is due and at least every
second, flushes the groups that are due. All times come from the injected clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial

from controlplane.alerting.config import InhibitRule, Route
from controlplane.alerting.config.model import DEFAULT_RESOLVE_TIMEOUT_S
from controlplane.alerting.pipeline.dedup import pending_update
from controlplane.alerting.pipeline.delivery import (
    Delivery,
    Recipients,
    Sleep,
    deliver,
)
from controlplane.alerting.pipeline.escalating import Escalator, Muting, muting_of
from controlplane.alerting.pipeline.groups import AggregationGroup, GroupedAlert, Grouper
from controlplane.alerting.pipeline.inhibit import Inhibitor
from controlplane.alerting.pipeline.lookahead import LogLookahead
from controlplane.alerting.pipeline.messages import build, summary
from controlplane.alerting.pipeline.model import Receiver
from controlplane.alerting.pipeline.notification_log import (
    FAILED,
    SENT,
    Finished,
    LogEntry,
    NotificationLog,
    digest,
    notification_id,
)
from controlplane.alerting.pipeline.outbox import (
    HistoryEvent,
    Pending,
    PlannedSend,
    SendOutcome,
    batches,
    claims_of,
    notified_events,
    plan_sends,
)
from controlplane.alerting.pipeline.page_retry import DEFAULT_PAGE_RETRY, PageRetry
from controlplane.alerting.pipeline.paging import Pager, Paging
from controlplane.alerting.pipeline.posted import POSTED_RULE_PREFIX
from controlplane.alerting.pipeline.posted_store import PostedAlertStore
from controlplane.alerting.pipeline.ratelimit import DigestPlanner
from controlplane.alerting.pipeline.silences import Silencer, SilenceRepository
from controlplane.engine.alerts import AlertState
from controlplane.engine.runtime.sink import AlertNotice
from controlplane.storage import AlertRepository, Database
from notifiers.base import Notification
from smsplatform.clock import Clock

log = logging.getLogger(__name__)

# The group key of a message that speaks for several groups at once (a budget digest).
DIGEST_PREFIX = "digest:"
# Messages being sent at once: enough to hide each endpoint's answer time behind the others'
# sends (the channels' lean pool costs the same per request however many wait for it).
MAX_SENDS_IN_FLIGHT = 16
# Group states claimed per transaction: the first sends start after one small commit, and each
# later batch (twice the last) is claimed while the one before it is being sent.
FIRST_CLAIM_BATCH = 16
LARGEST_CLAIM_BATCH = 256
# Posted alerts are saved when no group is due sooner than this (and no send is in flight).
POSTED_SAVE_IDLE_S = 1.0


class AlertingStage:
    """Implements the engine's AlertSink; the scheduler calls `tick` about once a second."""

    def __init__(
        self,
        *,
        database: Database,
        route: Route,
        receivers: Mapping[str, Receiver],
        clock: Clock,
        inhibit_rules: Sequence[InhibitRule] = (),
        is_muted: Callable[[Route, datetime], bool] | None = None,
        escalator: Escalator | None = None,
        ack_url: Callable[[str, int], str] | None = None,
        recipients: Recipients = tuple,
        sleep: Sleep = asyncio.sleep,
        replica: str = "local",
        console_url: str | None = None,
        resolve_timeout_s: float = DEFAULT_RESOLVE_TIMEOUT_S,
        page_retry: PageRetry = DEFAULT_PAGE_RETRY,
    ) -> None:
        self._receivers = dict(receivers)
        self._clock = clock
        self._sleep = sleep
        self._console_url = console_url
        self._is_muted = is_muted
        self._escalator = escalator
        self._ack_url = ack_url
        self._recipients = recipients
        self._grouper = Grouper(route)
        self._inhibitor = Inhibitor(inhibit_rules)
        self._silencer = Silencer(SilenceRepository(database))
        self._log = NotificationLog(database, replica)
        self._lookahead = LogLookahead(self._log)
        self._history = AlertRepository(database)
        self._posted = PostedAlertStore(self._history)
        self._resolve_timeout = timedelta(seconds=resolve_timeout_s)
        self._planner = DigestPlanner()
        self._queues: dict[str, dict[str, Pending]] = {}
        self._silence_recorded: set[tuple[str, str]] = set()
        self._in_flight = asyncio.Semaphore(MAX_SENDS_IN_FLIGHT)
        self._unfinished_sends = 0  # of every flush: send tasks not yet done
        self._unwritten_history: list[HistoryEvent] = []  # for the last flush in flight to write
        self._escalating = asyncio.Lock()
        self._pager = Pager(
            self._log, self._history, self._receivers, self._deliver, clock, console_url, page_retry
        )

    async def deliver(self, notices: Sequence[AlertNotice]) -> None:
        self.receive(
            [
                GroupedAlert(notice.rule_key, notice.transition.alert, notice.annotations)
                for notice in notices
                if notice.is_firing or notice.is_resolved
            ]
        )

    def receive(self, alerts: Sequence[GroupedAlert]) -> None:
        """Take alerts into their groups: the engine's, and those posted to the alerts API."""
        now = self._clock.now()
        opened = [group for grouped in alerts for group in self._grouper.add(grouped, now)]
        self._lookahead.opened(opened)

    def receive_posted(self, alerts: Sequence[GroupedAlert]) -> None:
        """Take alerts posted to the alerts API, and keep them in storage (in the background)."""
        self.receive(alerts)
        self._posted.save(alerts, self._clock.monotonic())

    def posted_in_force(self) -> list[GroupedAlert]:
        """The alerts posted to the alerts API that fire now."""
        return [g for g in self._grouper.firing() if g.rule_key.startswith(POSTED_RULE_PREFIX)]

    def seconds_until_due(self) -> float | None:
        """How long the scheduler may sleep before a group is due; None when no group waits."""
        return self._grouper.seconds_until_due(self._clock.now())

    def restore(self) -> int:
        """After a restart: take back the firing alerts from storage; the log prevents resends."""
        now = self._clock.now()
        stored = self._history.all(AlertState.FIRING)
        # A posted alert's end time is not stored: as after a post without one, it fires until
        # resolve_timeout passes without a re-post (senders re-post every few seconds).
        expires_at = now + self._resolve_timeout
        for item in stored:
            posted = item.rule_key.startswith(POSTED_RULE_PREFIX)
            grouped = GroupedAlert(
                item.rule_key,
                item.alert,
                item.annotations,
                expires_at=expires_at if posted else None,
            )
            self._grouper.add(grouped, now)
        return len(stored)

    async def tick(self, now: datetime | None = None) -> int:
        """Flush the due groups and send what dedup and the budgets allow; returns messages sent.

        Storage is read and written a batch per step, in a worker thread, so a flush of hundreds
        of groups costs a few statements and never stalls the loop that takes posted alerts.
        """
        now = now or self._clock.now()
        self._posted.save(self._grouper.expire(now), self._clock.monotonic())
        due = self._grouper.take_due(now)  # before any await: overlapping ticks take each once
        # Inside a mute (or outside every active) time interval a group says nothing.
        speaking = [g for g in due if self._is_muted is None or not self._is_muted(g.route, now)]
        _, logged = await asyncio.gather(
            asyncio.to_thread(self._silencer.refresh, now), self._lookahead.latest(due, speaking)
        )
        firing_labels = self._grouper.firing_labels() if self._inhibitor.has_rules else []
        # Taken before dedup drops the resolved alerts no route receiver is owed: the receivers
        # an escalation paged are owed them too.
        settling = [
            (group, list(group.alerts.values()))
            for group in due
            if self._escalator is not None
            and group.route.options.escalation is not None
            and not any(g.is_firing for g in group.alerts.values())
        ]
        for group in speaking:
            receiver = self._receivers.get(group.route.receiver)
            pending = pending_update(
                group,
                logged[group.key],
                receiver is None or receiver.send_resolved,
                partial(self._muted, firing_labels=firing_labels, now=now),
                now,
            )
            if pending is not None:
                self._queues.setdefault(group.route.receiver, {})[group.key] = pending
        for group in due:
            if self._escalator is not None and not any(g.is_firing for g in group.alerts.values()):
                await self._escalator.settled(group, now)
            self._grouper.forget_if_empty(group)
        sends = plan_sends(self._queues, self._receivers, self._planner, self._clock.monotonic())
        sent = await self._send_all(sends, now)
        due_in = self._grouper.seconds_until_due(self._clock.now())
        idle = self._unfinished_sends == 0 and (due_in is None or due_in > POSTED_SAVE_IDLE_S)
        self._posted.write_when_idle(idle, self._clock.monotonic())
        # Ticks overlap (a slow flush must not hold back the next group's); escalation steps
        # are taken by one tick at a time.
        async with self._escalating:
            return sent + await self._escalate(now) + await self._pager.resolved(settling)

    async def _send_all(self, sends: Sequence[PlannedSend], now: datetime) -> int:
        """Claim the group states a batch at a time, send each batch as soon as it is claimed
        (while the next is claimed), then record every outcome in one batch.

        The log rows are written at once (dedup reads them). The alerts' history lines wait for
        the last flush still sending: thousands of rows written in a worker thread hold the
        interpreter long enough to slow every send of the flushes that overlap this one.
        """
        sending: list[asyncio.Task[SendOutcome]] = []
        for batch in batches(sends, FIRST_CLAIM_BATCH, LARGEST_CLAIM_BATCH):
            entries = iter(await asyncio.to_thread(self._log.claim_many, claims_of(batch), now))
            for send in batch:
                claimed = [(item, entry) for item in send.items if (entry := next(entries))]
                if claimed:
                    task = asyncio.create_task(self._send(send.receiver, claimed, send.start))
                    self._unfinished_sends += 1
                    task.add_done_callback(self._send_finished)
                    sending.append(task)
        outcomes = await asyncio.gather(*sending) if sending else []
        self._unwritten_history += [event for outcome in outcomes for event in outcome.events]
        finished = [done for outcome in outcomes for done in outcome.finished]
        history: list[HistoryEvent] = []
        if self._unfinished_sends == 0:
            history, self._unwritten_history = self._unwritten_history, []
        if finished or history:
            await asyncio.to_thread(self._write_outcomes, finished, history)
        return sum(outcome.delivered for outcome in outcomes)

    def _send_finished(self, _: asyncio.Task[SendOutcome]) -> None:
        self._unfinished_sends -= 1

    def _write_outcomes(self, finished: Sequence[Finished], events: Sequence[HistoryEvent]) -> None:
        self._log.finish_many(finished)
        self._history.record_many(events)

    def write_deferred_history(self) -> int:
        """Write the history lines still waiting for a flush that will not finish, and the
        posted alerts not yet saved (at stop); returns the history lines written."""
        history, self._unwritten_history = self._unwritten_history, []
        self._history.record_many(history)
        self._posted.write_unsaved()
        return len(history)

    async def _escalate(self, now: datetime) -> int:
        """Send each escalation step that is due (claimed in storage: once across restarts),
        then page again the receivers whose page failed and whose wait is over."""
        if self._escalator is None:
            return 0
        sent = 0
        muting = partial(self._escalation_muting, now)
        for step in await self._escalator.due(now, muting):
            group = self._grouper.get(step.group_key)
            if group is None:
                log.warning("escalation.no_group group_key=%s step=%d", step.group_key, step.index)
                continue
            firing = self._pageable(now, group)
            if not firing:
                log.info("escalation.all_muted group_key=%s step=%d", step.group_key, step.index)
                continue
            sent += await self._pager.page(group, step.step.receivers, firing, step.episode_id)
        # After the steps: a step that just paged a receiver logged a newer entry than its
        # failed page, so the retry it supersedes is not sent.
        paging = self._escalator.paging()
        return sent + await self._pager.retry_failed(paging, partial(self._paging, now))

    def _pageable(self, now: datetime, group: AggregationGroup) -> list[GroupedAlert]:
        """The firing alerts a page names: not silenced or inhibited, as the group's messages."""
        firing_labels = self._grouper.firing_labels() if self._inhibitor.has_rules else []
        return [
            g
            for g in group.alerts.values()
            if g.is_firing and not self._muted(g, firing_labels, now)
        ]

    def _paging(self, now: datetime, group_key: str) -> Paging | None:
        group = self._grouper.get(group_key)
        return None if group is None else Paging(group, self._pageable(now, group))

    def _escalation_muting(self, now: datetime, group_key: str) -> Muting:
        group = self._grouper.get(group_key)
        return muting_of(group, now, self._is_muted, self._silencer.muting)

    async def _deliver(
        self,
        receiver: Receiver,
        notification: Notification,
        start: int,
        episode_id: int | None,
    ) -> Delivery:
        """Through the receiver's channels from `start`; a message of an escalation episode
        names it, and carries its ack link while it fires.

        A digest names none: it speaks for several groups, and an ack names one episode (each
        group's own message, and the console, carry theirs)."""
        if episode_id is not None:
            notification = replace(notification, episode_id=episode_id)
            if self._ack_url is not None and notification.status == "firing":
                link = self._ack_url(notification.group_key, episode_id)
                notification = replace(notification, ack_url=link)
        # A redial calls again only the callees who did not answer.
        redial = (
            self._escalator.redial_for(notification.group_key, receiver.name)
            if self._escalator is not None
            else None
        )
        recipients = self._recipients if redial is None else redial.recipients
        delivery = await deliver(
            receiver.channels[start:], notification, self._clock, self._sleep, recipients
        )
        if self._escalator is not None and delivery.channel == "voice":
            await self._escalator.call_placed(
                notification, receiver.name, delivery.reference, self._clock.now(), redial
            )
        return delivery

    def _muted(
        self, grouped: GroupedAlert, firing_labels: Sequence[Mapping[str, str]], now: datetime
    ) -> bool:
        """Inhibited or silenced now; a silence is noted in the alert's history once (written
        with the flush's outcomes)."""
        if not (self._inhibitor.has_rules or self._silencer.has_silences):
            return False  # nothing can mute: skip asking for each alert
        labels = grouped.alert.labels
        if self._inhibitor.inhibited(labels, firing_labels):
            return True
        silence_ids = self._silencer.muting(labels, now)
        for silence_id in silence_ids:
            key = (grouped.alert.fingerprint, silence_id)
            if key not in self._silence_recorded:
                self._silence_recorded.add(key)
                self._unwritten_history.append((key[0], now, "silence", {"silence_id": silence_id}))
        return bool(silence_ids)

    async def _send(
        self, receiver: Receiver, claimed: Sequence[tuple[Pending, LogEntry]], start: int
    ) -> SendOutcome:
        """Send one message for the claimed group states; what to write for it comes back."""
        alerts = [summary(g, "firing") for item, _ in claimed for g in item.firing]
        alerts += [summary(g, "resolved") for item, _ in claimed for g in item.resolved]
        # The escalation episode each group's firing message speaks for, opened if new.
        episodes = [
            await self._escalator.open_episode(item.group, item.firing)
            for item, _ in claimed
            if self._escalator is not None
        ]
        is_digest = len(claimed) > 1
        if is_digest:
            keys = [item.group.key for item, _ in claimed]
            group_key, group_labels = f"{DIGEST_PREFIX}{digest(*keys)[:16]}", {}
        else:
            group_key, group_labels = claimed[0][0].group.key, claimed[0][0].group.labels
        sent_as = notification_id(*(entry for _, entry in claimed))
        notification = build(
            receiver.name,
            group_key,
            group_labels,
            alerts,
            self._console_url,
            notification_id=sent_as,
        )
        episode_id = None if is_digest or not episodes else episodes[0]
        # A bounded number in flight: hundreds of groups flushing at once would otherwise queue
        # inside the HTTP client's pool, whose wait is quadratic in the queue (and times out).
        async with self._in_flight:
            delivery = await self._deliver(receiver, notification, start, episode_id)
        status = SENT if delivery.delivered else FAILED
        detail = {
            "digest_of": len(claimed),
            "attempts": [
                {"channel": r.channel, "outcome": r.outcome.value, "code": r.error_code}
                for r in delivery.attempts
            ],
        }
        done_at = self._clock.now()
        if delivery.delivered:
            for item, _ in claimed:
                for grouped in item.resolved:
                    item.group.alerts.pop(grouped.alert.fingerprint, None)
        return SendOutcome(
            delivery.delivered,
            [Finished(entry, status, delivery.channel, done_at, detail) for _, entry in claimed],
            notified_events(
                receiver.name, notification.group_key, alerts, delivery, is_digest, done_at
            ),
        )
