"""The dedup decision: does a group's state need a notification, given the last one sent?

Alertmanager's rule, with one change: alerts notified firing and later muted stay "owed" a
resolved message, which is sent when they resolve (Alertmanager drops it).
"""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime, timedelta

from controlplane.alerting.pipeline.notification_log import LogEntry


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
