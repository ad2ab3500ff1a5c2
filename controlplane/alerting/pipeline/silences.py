"""Silences: stored in the database, managed over the API, and the stage that mutes by them."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, Table, select, update

from controlplane.alerting.config.matchers import Matcher, all_match
from controlplane.storage import Database
from controlplane.storage.alerting_models import SilenceRow

log = logging.getLogger(__name__)

SILENCES: Table = SilenceRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime
    updated_at: datetime

    def active_at(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def state(self, now: datetime) -> str:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.active_at(now) and all_match(self.matchers, labels)


class SilenceRepository:
    """Adds, lists and expires silences; an expired silence stays listed, as in Alertmanager."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def add(
        self,
        matchers: Sequence[Matcher],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
        now: datetime,
    ) -> Silence:
        if not matchers:
            raise ValueError("a silence needs at least one matcher")
        if ends_at <= starts_at:
            raise ValueError("ends_at must be after starts_at")
        silence = Silence(
            str(uuid.uuid4()), tuple(matchers), starts_at, ends_at, created_by, comment, now, now
        )
        row = {
            "id": silence.id,
            "matchers": [m.to_json() for m in silence.matchers],
            "starts_at": starts_at,
            "ends_at": ends_at,
            "created_by": created_by,
            "comment": comment,
            "created_at": now,
            "updated_at": now,
        }
        with self._database.engine.begin() as connection:
            connection.execute(SILENCES.insert(), [row])
        log.info(
            "silence.add id=%s created_by=%s matchers=%s ends_at=%s",
            silence.id,
            created_by,
            ",".join(f"{m.name}{m.op}{m.value}" for m in silence.matchers),
            ends_at.isoformat(),
        )
        return silence

    def get(self, silence_id: str) -> Silence | None:
        with self._database.engine.connect() as connection:
            row = connection.execute(select(SILENCES).where(SILENCES.c.id == silence_id)).first()
        return None if row is None else _silence(row._mapping)

    def all(self) -> list[Silence]:
        with self._database.engine.connect() as connection:
            rows = connection.execute(select(SILENCES).order_by(SILENCES.c.created_at))
            return [_silence(row._mapping) for row in rows]

    def unexpired(self, now: datetime) -> list[Silence]:
        """Silences active now or starting later: what the silence stage needs."""
        statement = select(SILENCES).where(SILENCES.c.ends_at > now)
        with self._database.engine.connect() as connection:
            return [_silence(row._mapping) for row in connection.execute(statement)]

    def expire(self, silence_id: str, now: datetime) -> Silence | None:
        """End a silence now (a pending one ends before it starts); None if there is no such id."""
        silence = self.get(silence_id)
        if silence is None:
            return None
        if silence.ends_at <= now:
            return silence
        starts_at = min(silence.starts_at, now)
        with self._database.engine.begin() as connection:
            connection.execute(
                update(SILENCES)
                .where(SILENCES.c.id == silence_id)
                .values(starts_at=starts_at, ends_at=now, updated_at=now)
            )
        log.info("silence.expire id=%s at=%s", silence_id, now.isoformat())
        return self.get(silence_id)


class Silencer:
    """The silence stage: which active silences mute an alert, from a per-tick snapshot."""

    def __init__(self, repository: SilenceRepository) -> None:
        self._repository = repository
        self._silences: list[Silence] = []

    def refresh(self, now: datetime) -> None:
        self._silences = self._repository.unexpired(now)

    @property
    def has_silences(self) -> bool:
        return bool(self._silences)

    def muting(self, labels: Mapping[str, str], now: datetime) -> list[str]:
        """The ids of the silences that mute these labels now."""
        return [s.id for s in self._silences if s.mutes(labels, now)]


def _silence(row: RowMapping) -> Silence:
    raw_matchers: list[dict[str, str]] = row["matchers"]
    return Silence(
        id=str(row["id"]),
        matchers=tuple(Matcher.from_json(m) for m in raw_matchers),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        created_by=str(row["created_by"]),
        comment=str(row["comment"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
