"""The alerting stage: inhibit → silence → group/wait → dedup → notify/fallback → record.

`deliver` takes the engine's notices and only updates the groups; `tick(now)`, called every
second by the scheduler, flushes the groups that are due. All times come from the injected clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from controlplane.alerting.pipeline.dedup import needs_update
from controlplane.alerting.pipeline.delivery import Sleep, channel_name, deliver
from controlplane.alerting.pipeline.groups import AggregationGroup, GroupedAlert, Grouper
from controlplane.alerting.pipeline.inhibit import Inhibitor
from controlplane.alerting.pipeline.messages import build, summary
from controlplane.alerting.pipeline.model import InhibitRule, Receiver, Router
from controlplane.alerting.pipeline.notification_log import (
    FAILED,
    SENT,
    LogEntry,
    NotificationLog,
    digest,
)
from controlplane.alerting.pipeline.ratelimit import DigestPlanner
from controlplane.alerting.pipeline.silences import Silencer, SilenceRepository
from controlplane.clock import Clock
from controlplane.engine.alerts import AlertState
from controlplane.engine.runtime.sink import AlertNotice
from controlplane.storage import AlertRepository, Database

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


class AlertingStage:
    """Implements the engine's AlertSink; the scheduler calls `tick` about once a second."""

    def __init__(
        self,
        *,
        database: Database,
        router: Router,
        receivers: Mapping[str, Receiver],
        clock: Clock,
        inhibit_rules: Sequence[InhibitRule] = (),
        sleep: Sleep = asyncio.sleep,
        replica: str = "local",
        console_url: str | None = None,
    ) -> None:
        self._receivers = dict(receivers)
        self._clock = clock
        self._sleep = sleep
        self._console_url = console_url
        self._grouper = Grouper(router)
        self._inhibitor = Inhibitor(inhibit_rules)
        self._silencer = Silencer(SilenceRepository(database))
        self._log = NotificationLog(database, replica)
        self._history = AlertRepository(database)
        self._planner = DigestPlanner()
        self._queues: dict[str, dict[str, Pending]] = {}
        self._silence_recorded: set[tuple[str, str]] = set()

    async def deliver(self, notices: Sequence[AlertNotice]) -> None:
        now = self._clock.now()
        for notice in notices:
            if notice.is_firing or notice.is_resolved:
                alert = notice.transition.alert
                self._grouper.add(GroupedAlert(notice.rule_key, alert, notice.annotations), now)

    def restore(self) -> int:
        """After a restart: take back the firing alerts from storage; the log prevents resends."""
        now = self._clock.now()
        stored = self._history.all(AlertState.FIRING)
        for item in stored:
            self._grouper.add(GroupedAlert(item.rule_key, item.alert, item.annotations), now)
        return len(stored)

    async def tick(self, now: datetime | None = None) -> int:
        """Flush the due groups and send what dedup and the budgets allow; returns messages sent."""
        now = now or self._clock.now()
        self._silencer.refresh(now)
        firing_labels = self._grouper.firing_labels()
        for group in self._grouper.due(now):
            pending = self._evaluate(group, firing_labels, now)
            if pending is not None:
                self._queues.setdefault(group.route.receiver, {})[group.key] = pending
            self._grouper.flushed(group, now)
        sends = []
        for receiver_name, queue in self._queues.items():
            receiver = self._receivers.get(receiver_name)
            if receiver is None or not receiver.channels:
                log.error(
                    "notify.unknown_receiver receiver=%s dropped=%d", receiver_name, len(queue)
                )
                queue.clear()
                continue
            first = receiver.channels[0]
            items = list(queue.values())
            plan = self._planner.plan(
                f"{receiver_name}/{channel_name(first)}",
                first.budget,
                items,
                [item.critical for item in items],
                self._clock.monotonic(),
            )
            queue.clear()
            queue.update({item.group.key: item for item in plan.hold})
            sends += [self._send(receiver, [item], 0) for item in plan.alone]
            if plan.digest:
                sends.append(self._send(receiver, list(plan.digest), 0))
            sends += [self._send(receiver, [item], 1) for item in plan.divert]
        results = await asyncio.gather(*sends)
        return sum(results)

    def _evaluate(
        self, group: AggregationGroup, firing_labels: Sequence[Mapping[str, str]], now: datetime
    ) -> Pending | None:
        """Inhibit, silence and dedup one due group; None when nothing needs sending."""
        receiver = group.route.receiver
        last, last_sent = self._log.latest(receiver, digest(group.key))
        owed = set(last_sent.owed) if last_sent is not None else set()
        told_resolved = set(last_sent.resolved) if last_sent is not None else set()
        firing: list[GroupedAlert] = []
        resolved: list[GroupedAlert] = []
        for fingerprint, grouped in list(group.alerts.items()):
            if grouped.is_firing:
                if not self._muted(grouped, firing_labels, now):
                    firing.append(grouped)
            elif fingerprint in owed and fingerprint not in told_resolved:
                resolved.append(grouped)
            else:
                # Never notified, or its resolution already sent: nothing more to say about it.
                del group.alerts[fingerprint]
        receiver_config = self._receivers.get(receiver)
        if receiver_config is not None and not receiver_config.send_resolved:
            for grouped in resolved:
                group.alerts.pop(grouped.alert.fingerprint, None)
            owed -= {g.alert.fingerprint for g in resolved}
            resolved = []
        firing_fps = {g.alert.fingerprint for g in firing}
        resolved_fps = {g.alert.fingerprint for g in resolved}
        if not needs_update(
            firing_fps, resolved_fps, last_sent, now, group.route.repeat_interval_s
        ):
            return None
        step = 0 if last is None else last.step + 1
        return Pending(
            group,
            tuple(firing),
            tuple(resolved),
            frozenset((owed | firing_fps) - resolved_fps),
            step,
        )

    def _muted(
        self, grouped: GroupedAlert, firing_labels: Sequence[Mapping[str, str]], now: datetime
    ) -> bool:
        labels = grouped.alert.labels
        if self._inhibitor.inhibited(labels, firing_labels):
            return True
        silence_ids = self._silencer.muting(labels, now)
        for silence_id in silence_ids:
            key = (grouped.alert.fingerprint, silence_id)
            if key not in self._silence_recorded:
                self._silence_recorded.add(key)
                self._history.record(key[0], now, "silence", {"silence_id": silence_id})
        return bool(silence_ids)

    async def _send(self, receiver: Receiver, items: Sequence[Pending], start: int) -> int:
        """Claim each group's state in the log, send one message, record the outcome."""
        now = self._clock.now()
        claimed: list[tuple[Pending, LogEntry]] = []
        for item in items:
            entry = self._log.claim(
                receiver.name,
                item.group.key,
                [g.alert.fingerprint for g in item.firing],
                [g.alert.fingerprint for g in item.resolved],
                sorted(item.owed),
                item.step,
                now,
            )
            if entry is not None:
                claimed.append((item, entry))
        if not claimed:
            return 0
        alerts = [summary(g, "firing") for item, _ in claimed for g in item.firing]
        alerts += [summary(g, "resolved") for item, _ in claimed for g in item.resolved]
        is_digest = len(claimed) > 1
        if is_digest:
            keys = [item.group.key for item, _ in claimed]
            notification = build(
                receiver.name, f"digest:{digest(*keys)[:16]}", {}, alerts, self._console_url
            )
        else:
            group = claimed[0][0].group
            notification = build(receiver.name, group.key, group.labels, alerts, self._console_url)
        delivery = await deliver(receiver.channels[start:], notification, self._clock, self._sleep)
        done_at = self._clock.now()
        status = SENT if delivery.delivered else FAILED
        detail = {
            "digest_of": len(claimed),
            "attempts": [
                {"channel": r.channel, "outcome": r.outcome.value, "code": r.error_code}
                for r in delivery.attempts
            ],
        }
        for item, entry in claimed:
            self._log.finish(entry.id, status, delivery.channel, done_at, detail)
            if delivery.delivered:
                for grouped in item.resolved:
                    item.group.alerts.pop(grouped.alert.fingerprint, None)
        for alert in alerts:
            self._history.record(
                alert.fingerprint,
                done_at,
                "notification",
                {
                    "receiver": receiver.name,
                    "channel": delivery.channel,
                    "status": alert.status,
                    "outcome": status,
                    "digest": is_digest,
                },
            )
        log.info(
            "notify.%s receiver=%s group=%s channel=%s alerts=%d digest_of=%d",
            status,
            receiver.name,
            notification.group_key,
            delivery.channel,
            len(alerts),
            len(claimed),
        )
        return 1 if delivery.delivered else 0
