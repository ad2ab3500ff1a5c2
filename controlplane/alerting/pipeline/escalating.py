"""The escalate stage: a group whose route names a chain escalates until acked or resolved.

A muted group does not page: inside a mute time interval (or outside every active one) its due
steps wait, unclaimed, and go out once the mute ends; a silence covering every firing alert of
the group stops its escalation for good, as an acknowledgement would. Steps that come due
together (after a mute, or a restart) reach each receiver once. Every database call runs
in a worker thread, so a slow database never stalls the event loop's tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from controlplane.alerting.config import Route
from controlplane.alerting.escalation import Acknowledgements, DueStep, EscalationTracker
from controlplane.alerting.pipeline.groups import AggregationGroup, GroupedAlert
from notifiers.voice import out_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Muting:
    """Why a group's escalation must not page now (nothing: it may)."""

    paused: bool = False  # a mute time interval holds the group's notifications
    silence_ids: tuple[str, ...] = ()  # silences that together cover every firing alert


NOT_MUTED = Muting()
# The muting of a group by its key, as the stage sees it this tick.
GroupMuting = Callable[[str], Muting]


def muting_of(
    group: AggregationGroup | None,
    now: datetime,
    is_muted: Callable[[Route, datetime], bool] | None,
    silences_muting: Callable[[Mapping[str, str], datetime], list[str]],
) -> Muting:
    """A group's muting from its route's time intervals and the silences of its firing alerts."""
    if group is None:
        return NOT_MUTED
    if is_muted is not None and is_muted(group.route, now):
        return Muting(paused=True)
    firing = [g.alert.labels for g in group.alerts.values() if g.is_firing]
    silences = [silences_muting(labels, now) for labels in firing]
    if firing and all(silences):
        return Muting(silence_ids=tuple(dict.fromkeys(i for ids in silences for i in ids)))
    return NOT_MUTED


class Escalator:
    """Starts and stops a group's episode from what the pipeline sent; yields the due steps."""

    def __init__(self, tracker: EscalationTracker, acknowledgements: Acknowledgements) -> None:
        self._tracker = tracker
        self._acks = acknowledgements
        self._paused: set[str] = set()  # group keys whose pause was logged (log it once)

    async def notified(self, group: AggregationGroup, firing: Sequence[GroupedAlert]) -> None:
        """The group's firing notification went out: its chain (if any) starts or goes on."""
        chain = group.route.options.escalation
        if chain is None or not firing:
            return
        # The group's earliest start names the episode, so a rerun after a restart joins it.
        started_at = min(g.alert.started_at or g.alert.active_since for g in firing)
        fingerprints = [g.alert.fingerprint for g in firing]
        await asyncio.to_thread(self._tracker.start, group.key, chain, fingerprints, started_at)

    async def settled(self, group: AggregationGroup, at: datetime) -> None:
        """No alert of the group fires any more: its escalation stops."""
        if group.route.options.escalation is not None:
            await asyncio.to_thread(self._tracker.resolve, group.key, at)

    async def due(self, now: datetime, muting: GroupMuting) -> list[DueStep]:
        """The steps to send now, claimed; muted groups' steps wait, silenced groups stop."""
        ready = []
        episodes = await asyncio.to_thread(self._tracker.active)
        self._paused &= {episode.group_key for episode in episodes}
        for episode in episodes:
            muted = muting(episode.group_key)
            if muted.silence_ids:
                await self._stop_silenced(episode.group_key, muted.silence_ids, now)
            elif muted.paused:
                if episode.group_key not in self._paused:
                    self._paused.add(episode.group_key)
                    log.info("escalation.paused group_key=%s reason=mute", episode.group_key)
            else:
                self._paused.discard(episode.group_key)
                ready.append(episode)
        return _once_per_receiver(await asyncio.to_thread(self._tracker.claim_due, ready, now))

    async def _stop_silenced(
        self, group_key: str, silence_ids: tuple[str, ...], at: datetime
    ) -> None:
        by = f"silence:{','.join(silence_ids)}"[:255]
        log.info("escalation.silenced group_key=%s silences=%s", group_key, ",".join(silence_ids))
        await asyncio.to_thread(self._acks.ack_group, group_key, by, "silence", at)

    async def call_placed(self, group_key: str, call_id: str | None, at: datetime) -> None:
        """Remember a voice call's ids, so a key press during it acks this group."""
        await asyncio.to_thread(self._acks.remember_call, out_id(group_key), group_key, at)
        if call_id:
            await asyncio.to_thread(self._acks.remember_call, call_id, group_key, at)


def _once_per_receiver(steps: Sequence[DueStep]) -> list[DueStep]:
    """Several steps of a group due at once (after a mute or a restart) reach each receiver once.

    Catching up sends every overdue step, but calling the same phone twice in one second only
    trips the voice service's per-callee flow control and pages nobody more.
    """
    reached: set[tuple[str, str]] = set()
    once: list[DueStep] = []
    for due in steps:
        receivers = tuple(r for r in due.step.receivers if (due.group_key, r) not in reached)
        reached.update((due.group_key, r) for r in receivers)
        if receivers:
            once.append(replace(due, step=replace(due.step, receivers=receivers)))
    return once
