"""Acknowledgement: stops a group's escalation and writes the ack into every alert's history.

Voice calls end here too: a call's final result goes into the history the same way, and an
unanswered call of a group still escalating is handed to the redial book.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from controlplane.alerting.escalation.redial import CallEnded, CallOutcome, RedialBook
from controlplane.alerting.escalation.store import AckedEpisode, EpisodeState, EscalationStore
from controlplane.storage.alerts import AlertRepository
from smsplatform.clock import Clock

log = logging.getLogger(__name__)

# `silence`: a silence covering every firing alert of the group stops it, as an ack would.
Via = Literal["api", "cli", "console", "link", "voice", "silence"]
# What a client may say it is when it acks through the API.
VIA_CHOICES: tuple[Via, ...] = ("api", "cli", "console", "link", "voice")


class NothingToAck(LookupError):
    """No escalating group and no alert by that key."""


@dataclass(frozen=True)
class AckResult:
    """What an ack did: the groups it stopped (empty when they were stopped already)."""

    acked_at: datetime
    by: str
    via: Via
    group_keys: tuple[str, ...]
    fingerprints: tuple[str, ...]


class Acknowledgements:
    """Acks by group key, alert fingerprint, episode (a link) or voice call; all paths share it."""

    def __init__(
        self,
        store: EscalationStore,
        alerts: AlertRepository,
        clock: Clock,
        redials: RedialBook | None = None,
    ) -> None:
        self._store = store
        self._alerts = alerts
        self._clock = clock
        self.redials = redials or RedialBook()

    def ack_group(self, group_key: str, by: str, via: Via, at: datetime | None = None) -> AckResult:
        """Stops the group's escalation; NothingToAck if the group never escalated."""
        when = at or self._clock.now()
        acked = self._store.ack_group(group_key, by, via, when)
        if not acked and not self._store.has_group(group_key):
            raise NothingToAck(f"no alert group {group_key!r}")
        return self._record(acked, by, via, when, extra_fingerprints=())

    def ack_alert(
        self, fingerprint: str, by: str, via: Via, at: datetime | None = None
    ) -> AckResult:
        """Stops every group holding the alert; an alert in no group still gets the ack noted."""
        when = at or self._clock.now()
        acked = self._store.ack_fingerprint(fingerprint, by, via, when)
        if not acked and self._alerts.get(fingerprint) is None:
            raise NothingToAck(f"no alert with fingerprint {fingerprint!r}")
        return self._record(acked, by, via, when, extra_fingerprints=(fingerprint,))

    def episode(self, episode_id: int) -> EpisodeState | None:
        """Where an episode stands (what the page an ack link opens shows)."""
        return self._store.episode(episode_id)

    def ack_episode(
        self, episode_id: int, group_key: str, by: str, via: Via, at: datetime | None = None
    ) -> AckResult:
        """Stops that one episode of the group (a link's, a call's); NothingToAck if the group
        has no such episode. An episode stopped already is no error: nothing is stopped."""
        when = at or self._clock.now()
        acked = self._store.ack_episode(episode_id, group_key, by, via, when)
        if not acked:
            state = self._store.episode(episode_id)
            if state is None or state.group_key != group_key:
                raise NothingToAck(f"no escalation episode {episode_id} of group {group_key!r}")
        return self._record(acked, by, via, when, extra_fingerprints=())

    def ack_call(self, call_ids: Sequence[str], by: str, at: datetime | None = None) -> AckResult:
        """A key press during a voice call: acks the episode the call was placed for."""
        call = self._store.placed_call(call_ids)
        if call is None or call.episode_id is None:
            raise NothingToAck(f"no call paging {' or '.join(c for c in call_ids if c)!r}")
        return self.ack_episode(call.episode_id, call.group_key, by, "voice", at)

    def call_ended(self, call: CallEnded, at: datetime | None = None) -> CallOutcome | None:
        """A call's final result: noted in its episode's alerts' history; redialled if
        unanswered while the episode escalates.

        None for a duplicate receipt (Dyvms pushes some twice); NothingToAck for a call that
        was never remembered, or placed for no episode.
        """
        when = at or self._clock.now()
        placed = self._store.placed_call([call.call_id, call.out_id])
        episode = (
            None
            if placed is None or placed.episode_id is None
            else self._store.episode(placed.episode_id)
        )
        if episode is None:
            raise NothingToAck(f"no call paging {call.call_id or call.out_id!r}")
        outcome = self.redials.ended(call, episode.escalating, when)
        if outcome is None:
            return None
        detail = {
            "callee": call.callee,
            "call_id": call.call_id,
            "status_code": call.status_code,
            "meaning": call.meaning,
            "attempt": outcome.attempt,
            "redial": outcome.decision,
            "redial_at": outcome.redial_at.isoformat() if outcome.redial_at else None,
            "group_key": episode.group_key,
        }
        self._alerts.record_many([(fp, when, "call_result", detail) for fp in episode.fingerprints])
        log.info(
            "escalation.call_ended group_key=%s callee=%s code=%s attempt=%s redial=%s",
            episode.group_key,
            call.callee,
            call.status_code,
            outcome.attempt,
            outcome.decision,
        )
        return outcome

    def remember_call(
        self, call_id: str, group_key: str, episode_id: int | None, at: datetime | None = None
    ) -> None:
        """Note the episode a voice call pages for (by its OutId before it is placed, by its
        CallId once placed), so its key press acks that episode and no later one."""
        self._store.remember_call(call_id, group_key, episode_id, at or self._clock.now())

    def _record(
        self,
        acked: list[AckedEpisode],
        by: str,
        via: Via,
        at: datetime,
        extra_fingerprints: tuple[str, ...],
    ) -> AckResult:
        fingerprints: dict[str, str | None] = {fp: None for fp in extra_fingerprints}
        for episode in acked:
            for fingerprint in episode.fingerprints:
                fingerprints[fingerprint] = episode.group_key
        for fingerprint, group_key in fingerprints.items():
            self._alerts.record(
                fingerprint, at, "ack", {"by": by, "via": via, "group_key": group_key}
            )
        group_keys = tuple(episode.group_key for episode in acked)
        log.info(
            "escalation.ack by=%s via=%s groups=%d alerts=%d group_keys=%s",
            by,
            via,
            len(group_keys),
            len(fingerprints),
            "|".join(group_keys),
        )
        return AckResult(at, by, via, group_keys, tuple(fingerprints))
