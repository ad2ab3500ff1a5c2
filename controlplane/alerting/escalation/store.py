"""Escalation state in the database: episodes, step claims, acknowledgements and placed calls."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Table, and_, select, update
from sqlalchemy.exc import IntegrityError

from controlplane.storage.escalation_models import (
    EscalationAlertRow,
    EscalationRow,
    EscalationStepRow,
    VoiceCallRow,
)
from smsplatform.database.engine import Database

EPISODES: Table = EscalationRow.__table__  # type: ignore[assignment]
ALERTS: Table = EscalationAlertRow.__table__  # type: ignore[assignment]
STEPS: Table = EscalationStepRow.__table__  # type: ignore[assignment]
CALLS: Table = VoiceCallRow.__table__  # type: ignore[assignment]


def group_hash(group_key: str) -> str:
    return hashlib.sha256(group_key.encode()).hexdigest()


@dataclass(frozen=True)
class Episode:
    """An alert group escalating since `started_at`, with the steps already claimed."""

    id: int
    group_key: str
    chain: str
    started_at: datetime
    claimed_steps: frozenset[int]


@dataclass(frozen=True)
class AckedEpisode:
    """An episode an acknowledgement stopped, with the alerts it held (for their history)."""

    group_key: str
    fingerprints: tuple[str, ...]


@dataclass(frozen=True)
class EpisodeState:
    """Where an episode stands, and the alerts it holds (for their history)."""

    group_key: str
    started_at: datetime
    escalating: bool  # neither acknowledged nor resolved
    fingerprints: tuple[str, ...]


@dataclass(frozen=True)
class PlacedCall:
    """A voice call remembered: the group it was placed for and its episode (None: none)."""

    group_key: str
    episode_id: int | None


class EscalationStore:
    """Hides the SQL of escalations; every write is its own short transaction."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def open_episode(
        self, group_key: str, chain: str, started_at: datetime, fingerprints: Iterable[str]
    ) -> int:
        """The group's episode: the one still open (not resolved), else a new one of
        (group, started_at); adds the alerts not yet in it.

        A group keeps one episode from its first firing until it resolves, even when the alerts
        a later notification names started later: an ack (of that episode) then holds for all.
        """
        key_hash = group_hash(group_key)
        with self._database.engine.connect() as connection:
            episode_id = connection.execute(
                select(EPISODES.c.id)
                .where(EPISODES.c.group_hash == key_hash, EPISODES.c.resolved_at.is_(None))
                .order_by(EPISODES.c.started_at.desc())
                .limit(1)
            ).scalar_one_or_none()
        if episode_id is None:
            row = {"group_hash": key_hash, "group_key": group_key, "chain": chain}
            try:
                with self._database.engine.begin() as connection:
                    connection.execute(EPISODES.insert(), [{**row, "started_at": started_at}])
            except IntegrityError:
                pass  # another replica, or an earlier run, opened it first
        with self._database.engine.begin() as connection:
            if episode_id is None:
                episode_id = connection.execute(
                    select(EPISODES.c.id).where(
                        EPISODES.c.group_hash == key_hash, EPISODES.c.started_at == started_at
                    )
                ).scalar_one()
            self._add_alerts(connection, episode_id, fingerprints)
        return int(episode_id)

    def _add_alerts(
        self, connection: Connection, episode_id: int, fingerprints: Iterable[str]
    ) -> None:
        known = set(
            connection.execute(
                select(ALERTS.c.fingerprint).where(ALERTS.c.escalation_id == episode_id)
            ).scalars()
        )
        new = sorted(set(fingerprints) - known)
        if new:
            connection.execute(
                ALERTS.insert(), [{"escalation_id": episode_id, "fingerprint": fp} for fp in new]
            )

    def active(self) -> list[Episode]:
        """Episodes neither acknowledged nor resolved, with their claimed steps."""
        statement = (
            select(EPISODES, STEPS.c.step)
            .outerjoin(STEPS, STEPS.c.escalation_id == EPISODES.c.id)
            .where(EPISODES.c.acked_at.is_(None), EPISODES.c.resolved_at.is_(None))
            .order_by(EPISODES.c.id)
        )
        by_id: dict[int, tuple[EscalationRowData, set[int]]] = {}
        with self._database.engine.connect() as connection:
            for row in connection.execute(statement):
                _, steps = by_id.setdefault(
                    row.id, ((row.group_key, row.chain, row.started_at), set())
                )
                if row.step is not None:
                    steps.add(row.step)
        return [
            Episode(episode_id, key, chain, started, frozenset(steps))
            for episode_id, ((key, chain, started), steps) in by_id.items()
        ]

    def claim(self, episode_id: int, step: int, at: datetime) -> bool:
        """Claim a step before sending it; False when it was claimed already (here or elsewhere)."""
        try:
            with self._database.engine.begin() as connection:
                connection.execute(
                    STEPS.insert(), [{"escalation_id": episode_id, "step": step, "claimed_at": at}]
                )
        except IntegrityError:
            return False
        return True

    def resolve(self, group_key: str, at: datetime) -> int:
        """Ends the group's open episodes; returns how many there were."""
        with self._database.engine.begin() as connection:
            result = connection.execute(
                update(EPISODES)
                .where(
                    EPISODES.c.group_hash == group_hash(group_key),
                    EPISODES.c.resolved_at.is_(None),
                )
                .values(resolved_at=at)
            )
        return int(result.rowcount)

    def has_group(self, group_key: str) -> bool:
        with self._database.engine.connect() as connection:
            found = connection.execute(
                select(EPISODES.c.id).where(EPISODES.c.group_hash == group_hash(group_key)).limit(1)
            ).first()
        return found is not None

    def episode(self, episode_id: int) -> EpisodeState | None:
        """Where an episode stands, with its group and alerts; None if there is no such one."""
        with self._database.engine.connect() as connection:
            episode = connection.execute(
                select(
                    EPISODES.c.group_key,
                    EPISODES.c.started_at,
                    EPISODES.c.acked_at,
                    EPISODES.c.resolved_at,
                ).where(EPISODES.c.id == episode_id)
            ).first()
            if episode is None:
                return None
            fingerprints = connection.execute(
                select(ALERTS.c.fingerprint)
                .where(ALERTS.c.escalation_id == episode_id)
                .order_by(ALERTS.c.fingerprint)
            ).scalars()
            escalating = episode.acked_at is None and episode.resolved_at is None
            return EpisodeState(
                episode.group_key, episode.started_at, escalating, tuple(fingerprints)
            )

    def ack_group(self, group_key: str, by: str, via: str, at: datetime) -> list[AckedEpisode]:
        """Acknowledges the group's open episodes; returns those this call stopped."""
        condition = EPISODES.c.group_hash == group_hash(group_key)
        return self._ack(condition, by, via, at)

    def ack_episode(
        self, episode_id: int, group_key: str, by: str, via: str, at: datetime
    ) -> list[AckedEpisode]:
        """Acknowledges the one episode if it is the group's and still open; returns it if so."""
        of_group = EPISODES.c.group_hash == group_hash(group_key)
        return self._ack(and_(EPISODES.c.id == episode_id, of_group), by, via, at)

    def ack_fingerprint(
        self, fingerprint: str, by: str, via: str, at: datetime
    ) -> list[AckedEpisode]:
        """Acknowledges every open episode holding the alert; returns those this call stopped."""
        holding = select(ALERTS.c.escalation_id).where(ALERTS.c.fingerprint == fingerprint)
        return self._ack(EPISODES.c.id.in_(holding), by, via, at)

    def _ack(
        self, condition: ColumnElement[bool], by: str, via: str, at: datetime
    ) -> list[AckedEpisode]:
        open_ = and_(condition, EPISODES.c.acked_at.is_(None), EPISODES.c.resolved_at.is_(None))
        with self._database.engine.begin() as connection:
            rows = connection.execute(
                select(EPISODES.c.id, EPISODES.c.group_key).where(open_).with_for_update()
            ).all()
            if not rows:
                return []
            ids = [row.id for row in rows]
            # The acked_at IS NULL guard makes a concurrent ack of the same episode a no-op.
            connection.execute(
                update(EPISODES)
                .where(EPISODES.c.id.in_(ids), EPISODES.c.acked_at.is_(None))
                .values(acked_at=at, acked_by=by[:255], acked_via=via)
            )
            members = connection.execute(
                select(ALERTS.c.escalation_id, ALERTS.c.fingerprint)
                .where(ALERTS.c.escalation_id.in_(ids))
                .order_by(ALERTS.c.fingerprint)
            ).all()
        by_episode: dict[int, list[str]] = {episode_id: [] for episode_id in ids}
        for member in members:
            by_episode[member.escalation_id].append(member.fingerprint)
        return [AckedEpisode(row.group_key, tuple(by_episode[row.id])) for row in rows]

    def remember_call(
        self, call_id: str, group_key: str, episode_id: int | None, at: datetime
    ) -> None:
        row = {
            "call_id": call_id,
            "group_key": group_key,
            "escalation_id": episode_id,
            "placed_at": at,
        }
        try:
            with self._database.engine.begin() as connection:
                connection.execute(CALLS.insert(), [row])
        except IntegrityError:
            pass  # the same call remembered twice (its OutId, then its CallId) keeps its episode

    def placed_call(self, call_ids: Sequence[str]) -> PlacedCall | None:
        """The call remembered under the first of `call_ids` (CallId, OutId) that was."""
        wanted = [call_id for call_id in call_ids if call_id]
        if not wanted:
            return None
        with self._database.engine.connect() as connection:
            rows = {
                row.call_id: PlacedCall(row.group_key, row.escalation_id)
                for row in connection.execute(
                    select(CALLS.c.call_id, CALLS.c.group_key, CALLS.c.escalation_id).where(
                        CALLS.c.call_id.in_(wanted)
                    )
                )
            }
        return next((rows[call_id] for call_id in wanted if call_id in rows), None)


EscalationRowData = tuple[str, str, datetime]
