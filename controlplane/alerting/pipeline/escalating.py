"""The escalate stage: a group whose route names a chain escalates until acked or resolved.

A muted group does not page: inside a mute time interval (or outside every active one) its due
steps wait, unclaimed, and go out once the mute ends; a silence covering every firing alert of
the group stops its escalation for good, as an acknowledgement would. Steps that come due
together (after a mute, or a restart) reach each receiver once. A voice call that ended
unanswered comes back as a redial step of its receiver, restricted to the callees who did not
answer. Each voice call is bound to the episode it pages for (by its OutId before it is placed,
by its CallId after), so a key press acknowledges that episode and no later one. Every database
call runs in a worker thread, so a slow database never stalls the event loop's tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from controlplane.alerting.config import EscalationStep, Route
from controlplane.alerting.escalation import (
    REDIAL_STEP,
    Acknowledgements,
    DueStep,
    Episode,
    EscalationTracker,
    Redial,
)
from controlplane.alerting.pipeline.groups import AggregationGroup, GroupedAlert
from notifiers.base import Notification

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Muting:
    """Why a group's escalation must not page now (nothing: it may)."""

    paused: bool = False  # a mute time interval holds the group's notifications
    # The group is not held here (yet: a restart restores it from storage): a step claimed now
    # would have nothing to page with, so its steps wait.
    unknown: bool = False
    silence_ids: tuple[str, ...] = ()  # silences that together cover every firing alert


NOT_MUTED = Muting()
UNKNOWN_GROUP = Muting(unknown=True)
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
        return UNKNOWN_GROUP
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
        self._redials = acknowledgements.redials
        # The redials handed out by the last `due`, by (group key, receiver), until dialled.
        self._redialling: dict[tuple[str, str], Redial] = {}
        self._paused: set[str] = set()  # group keys whose pause was logged (log it once)
        self._unknown: set[str] = set()  # group keys whose absence was logged (log it once)
        self._paging: dict[str, Episode] = {}  # see paging

    async def open_episode(
        self, group: AggregationGroup, firing: Sequence[GroupedAlert]
    ) -> int | None:
        """The group's firing notification is about to go out: its chain (if any) starts or goes
        on. Returns the episode's id, which the message's ack link and voice calls name (None:
        the group does not escalate).

        Opened before the send, not after it: the first message already carries the episode's
        link, and a group whose every channel failed still pages on time.
        """
        chain = group.route.options.escalation
        if chain is None or not firing:
            return None
        # The group's earliest start names the episode, so a rerun after a restart joins it.
        started_at = min(g.alert.started_at or g.alert.active_since for g in firing)
        fingerprints = [g.alert.fingerprint for g in firing]
        return await asyncio.to_thread(
            self._tracker.start, group.key, chain, fingerprints, started_at
        )

    async def settled(self, group: AggregationGroup, at: datetime) -> None:
        """No alert of the group fires any more: its escalation stops."""
        if group.route.options.escalation is not None:
            await asyncio.to_thread(self._tracker.resolve, group.key, at)

    async def due(self, now: datetime, muting: GroupMuting) -> list[DueStep]:
        """The steps to send now, claimed; muted groups' steps wait, silenced groups stop."""
        ready = []
        episodes = await asyncio.to_thread(self._tracker.active)
        self._paused &= {episode.group_key for episode in episodes}
        escalating = {episode.group_key for episode in episodes}
        self._unknown &= {episode.group_key for episode in episodes}
        for episode in episodes:
            muted = muting(episode.group_key)
            if muted.unknown:
                if episode.group_key not in self._unknown:
                    self._unknown.add(episode.group_key)
                    log.info("escalation.waiting_for_group group_key=%s", episode.group_key)
            elif muted.silence_ids:
                escalating.discard(episode.group_key)
                await self._stop_silenced(episode.group_key, muted.silence_ids, now)
            elif muted.paused:
                if episode.group_key not in self._paused:
                    self._paused.add(episode.group_key)
                    log.info("escalation.paused group_key=%s reason=mute", episode.group_key)
            else:
                self._paused.discard(episode.group_key)
                self._unknown.discard(episode.group_key)
                ready.append(episode)
        self._paging = {episode.group_key: episode for episode in ready}
        steps = await asyncio.to_thread(self._tracker.claim_due, ready, now)
        return self._with_redials(steps, ready, escalating, now)

    def paging(self) -> dict[str, Episode]:
        """The groups the last `due` let page (escalating, not muted), with their episode:
        those whose failed or abandoned pages may be paged again."""
        return dict(self._paging)

    def _with_redials(
        self, steps: list[DueStep], ready: list[Episode], escalating: set[str], now: datetime
    ) -> list[DueStep]:
        """The chain's due steps, then the redials due now as steps of their one receiver."""
        redials = self._redials.take_due(now, {e.group_key for e in ready}, escalating)
        by_key = {episode.group_key: episode for episode in ready}
        redial_steps = [
            DueStep(
                r.group_key,
                by_key[r.group_key].chain,
                REDIAL_STEP,
                EscalationStep(0.0, (r.receiver,)),
                by_key[r.group_key].started_at,
                by_key[r.group_key].id,
            )
            for r in redials
        ]
        # A chain step due now that calls the same receiver calls everyone: no redial besides.
        once = _once_per_receiver([*steps, *redial_steps])
        kept = {(s.group_key, s.step.receivers[0]) for s in once if s.index == REDIAL_STEP}
        self._redialling = {
            (r.group_key, r.receiver): r for r in redials if (r.group_key, r.receiver) in kept
        }
        return once

    def redial_for(self, group_key: str, receiver: str) -> Redial | None:
        """The redial this send is (taken: dialled once), or None for an ordinary send."""
        return self._redialling.pop((group_key, receiver), None)

    async def _stop_silenced(
        self, group_key: str, silence_ids: tuple[str, ...], at: datetime
    ) -> None:
        by = f"silence:{','.join(silence_ids)}"[:255]
        log.info("escalation.silenced group_key=%s silences=%s", group_key, ",".join(silence_ids))
        await asyncio.to_thread(self._acks.ack_group, group_key, by, "silence", at)

    async def bind_call(self, out_id: str, notification: Notification) -> None:
        """A voice call is about to be placed for the message: its OutId is bound to the
        message's episode first, so even a receipt whose call's CallId never came back finds it.

        A call that cannot be remembered still pages (its key press is then only logged, and the
        console acknowledges): reaching someone matters more than their key press.
        """
        if notification.episode_id is None:
            return  # no episode to acknowledge: a digest, or a group that does not escalate
        try:
            await asyncio.to_thread(
                self._acks.remember_call, out_id, notification.group_key, notification.episode_id
            )
        except Exception:
            log.exception(
                "voice.bind_failed group_key=%s out_id=%s", notification.group_key, out_id
            )

    async def call_placed(
        self,
        notification: Notification,
        receiver: str,
        reference: str | None,
        at: datetime,
        redial: Redial | None = None,
    ) -> None:
        """Remember a voice send's call ids (comma-joined in `reference`) with the episode its
        message pages for, so a key press during a call acks that episode and an unanswered call
        is redialled."""
        group_key = notification.group_key
        call_ids = [call_id for call_id in (reference or "").split(",") if call_id]
        if notification.episode_id is not None:
            for call_id in call_ids:
                await asyncio.to_thread(
                    self._acks.remember_call, call_id, group_key, notification.episode_id, at
                )
        attempt = 1 if redial is None else redial.attempt
        self._redials.placed(call_ids, group_key, receiver, attempt, at)
        if redial is not None:
            log.info(
                "voice.redialled group_key=%s receiver=%s callees=%s attempt=%d",
                group_key,
                receiver,
                ",".join(redial.callees),
                attempt,
            )


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
