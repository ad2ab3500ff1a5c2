"""The dedup decision: does a group's state need a notification, given the last one sent?

Alertmanager's rule, with one change: alerts notified firing and later muted stay "owed" a
resolved message, which is sent when they resolve (Alertmanager drops it).
"""

from __future__ import annotations

from collections.abc import Callable, Set
from datetime import datetime, timedelta

from controlplane.alerting.pipeline.groups import AggregationGroup, GroupedAlert
from controlplane.alerting.pipeline.lookahead import Logged
from controlplane.alerting.pipeline.notification_log import LogEntry
from controlplane.alerting.pipeline.outbox import Pending


def needs_update(
    firing: Set[str],
    resolved: Set[str],
    last_sent: LogEntry | None,
    now: datetime,
    repeat_interval_s: float,
) -> bool:
    if last_sent is None:
        return bool(firing)
    if not firing <= set(last_sent.firing):
        return True  # a new alert fires
    if not firing:
        return bool(resolved)  # everything resolved or muted: tell of the resolutions owed
    if not resolved <= set(last_sent.resolved):
        return True
    return now - last_sent.claimed_at >= timedelta(seconds=repeat_interval_s)


def pending_update(
    group: AggregationGroup,
    logged: Logged,
    send_resolved: bool,
    muted: Callable[[GroupedAlert], bool],
    now: datetime,
) -> Pending | None:
    """What a due group has to say given the notification log, or None when nothing.

    `logged`: the group's latest claim and latest successful send. Alerts with nothing more to
    say leave the group.
    """
    last, last_sent = logged
    owed = set(last_sent.owed) if last_sent is not None else set()
    told_resolved = set(last_sent.resolved) if last_sent is not None else set()
    firing: list[GroupedAlert] = []
    resolved: list[GroupedAlert] = []
    for fingerprint, grouped in list(group.alerts.items()):
        if grouped.is_firing:
            if not muted(grouped):
                firing.append(grouped)
        elif fingerprint in owed and fingerprint not in told_resolved:
            if send_resolved:
                resolved.append(grouped)
            else:  # the receiver does not want it: no longer owed
                del group.alerts[fingerprint]
                owed.discard(fingerprint)
        else:
            del group.alerts[fingerprint]  # never notified, or its resolution already sent
    firing_fps = {g.alert.fingerprint for g in firing}
    resolved_fps = {g.alert.fingerprint for g in resolved}
    if not needs_update(
        firing_fps, resolved_fps, last_sent, now, group.route.options.repeat_interval_s
    ):
        return None
    step = 0 if last is None else last.step + 1
    return Pending(
        group, tuple(firing), tuple(resolved), frozenset((owed | firing_fps) - resolved_fps), step
    )
