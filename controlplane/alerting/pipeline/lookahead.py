"""Looking a new group up in the notification log while it waits, so its first flush need not.

A burst of alerts opens hundreds of groups that all come due within a few milliseconds; looked
up during their `group_wait`, their first flush starts claiming and sending at once instead of
first reading the log in a worker thread that competes with the sends for the interpreter.
What was read is used for the group's first flush only (later flushes read the log anew), and
the claim's unique key stays the arbiter: a replica that notified the group in the meantime
still makes our claim of the same state fail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from controlplane.alerting.pipeline.groups import AggregationGroup
from controlplane.alerting.pipeline.notification_log import LogEntry, NotificationLog, digest

log = logging.getLogger(__name__)

# A group's latest claim (any status) and latest successful send in the notification log.
Logged = tuple[LogEntry | None, LogEntry | None]
NOTHING_LOGGED: Logged = (None, None)


class LogLookahead:
    """The log entries of groups that have not flushed yet, read in the background."""

    def __init__(self, notification_log: NotificationLog) -> None:
        self._log = notification_log
        self._read_ahead: dict[str, Logged] = {}  # by group key, until the group's first flush
        self._reading: set[asyncio.Task[None]] = set()

    def opened(self, groups: Sequence[AggregationGroup]) -> None:
        """Start reading the log for newly opened groups (on the event loop; elsewhere, e.g.
        `restore` in a worker thread, their first flush reads it itself)."""
        if not groups:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        reading = asyncio.create_task(self._read(list(groups)), name="alerting-log-lookahead")
        self._reading.add(reading)
        reading.add_done_callback(self._reading.discard)

    async def latest(
        self, due: Sequence[AggregationGroup], speaking: Sequence[AggregationGroup]
    ) -> dict[str, Logged]:
        """What the log holds for each speaking group, by key: read ahead, or read now.

        Every due group's read-ahead entry is used up here, so a muted first flush never leaves
        a stale one behind for a later flush.
        """
        ahead = {g.key: self._read_ahead.pop(g.key) for g in due if g.key in self._read_ahead}
        found = {g.key: ahead[g.key] for g in speaking if g.key in ahead}
        unread = [g for g in speaking if g.key not in found]
        if unread:
            read = await asyncio.to_thread(self._log.latest_many, [_log_key(g) for g in unread])
            for group in unread:
                found[group.key] = read.get(_log_key(group), NOTHING_LOGGED)
        return found

    async def _read(self, groups: list[AggregationGroup]) -> None:
        try:
            read = await asyncio.to_thread(self._log.latest_many, [_log_key(g) for g in groups])
        except Exception:  # the flush reads the log itself then
            log.exception("alerting.lookahead_failed groups=%d", len(groups))
            return
        for group in groups:
            # A group whose first flush has begun read the log itself, later than this.
            if group.flushes == 0:
                self._read_ahead[group.key] = read.get(_log_key(group), NOTHING_LOGGED)


def _log_key(group: AggregationGroup) -> tuple[str, str]:
    """How the log files a group: its receiver and the hash of its key."""
    return (group.route.receiver, digest(group.key))
