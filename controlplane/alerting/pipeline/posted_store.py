"""Posted alerts kept in storage, so the alerts API serves them and a restart restores them.

Alerts arrive in bursts of thousands (a sender re-posts everything every few seconds): they are
gathered here, the latest state of each alert wins, and one writer task saves what has gathered
in a worker thread, so the handler that took them never waits for storage. Saving 10,000 alerts
holds the interpreter for a few hundred milliseconds, so it waits until the stage is idle
(no send in flight, no group due soon) and so does not slow the posts or the flush they
lead to; a stage that is never idle still saves what has waited `MAX_UNSAVED_S`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from controlplane.alerting.pipeline.groups import GroupedAlert
from controlplane.storage import AlertRepository
from controlplane.storage.alerts import StoredAlert

log = logging.getLogger(__name__)

MAX_UNSAVED_S = 5.0


class PostedAlertStore:
    """Saves posted alerts (firing, resolved or expired) in the background, latest state wins."""

    def __init__(self, repository: AlertRepository) -> None:
        self._repository = repository
        self._unsaved: dict[str, GroupedAlert] = {}  # by fingerprint
        self._writer: asyncio.Task[None] | None = None
        self._unsaved_since: float | None = None  # monotonic time of the oldest unsaved state

    def save(self, alerts: Sequence[GroupedAlert], monotonic_now: float) -> None:
        """Queue the alerts' current state for the next `write_when_idle` to save."""
        if not alerts:
            return
        for grouped in alerts:
            self._unsaved[grouped.alert.fingerprint] = grouped
        if self._unsaved_since is None:
            self._unsaved_since = monotonic_now

    def write_when_idle(self, idle: bool, monotonic_now: float) -> None:
        """Start saving what is queued (in the background, on the event loop) if the stage is
        idle, or if it has waited too long for that."""
        if self._writer is not None or self._unsaved_since is None:
            return
        if idle or monotonic_now - self._unsaved_since >= MAX_UNSAVED_S:
            self._writer = asyncio.create_task(self._write_all(), name="alerting-posted-save")

    async def _write_all(self) -> None:
        try:
            while self._unsaved:
                await asyncio.to_thread(self._repository.save_received, self._take())
        except Exception:  # that batch is lost to storage only: the alerts still route
            log.exception("alerting.posted_save_failed queued=%d", len(self._unsaved))
        finally:
            self._writer = None

    def write_unsaved(self) -> int:
        """Save what is still queued (at stop, once the writer is cancelled); returns how many."""
        taken = self._take()
        self._repository.save_received(taken)
        return len(taken)

    def _take(self) -> list[StoredAlert]:
        taken, self._unsaved = self._unsaved, {}
        self._unsaved_since = None
        return [StoredAlert(g.rule_key, g.alert, g.annotations) for g in taken.values()]
