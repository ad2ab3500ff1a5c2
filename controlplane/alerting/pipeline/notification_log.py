"""The notification log: a claim per (receiver, group, state, step) taken before each send.

The unique claim key makes the database the arbiter: of two replicas, or a process and its
restarted self, only the one whose INSERT succeeds sends; the other sees it was done.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, Table, select, update
from sqlalchemy.exc import IntegrityError

from controlplane.storage import Database
from controlplane.storage.alerting_models import NotificationLogRow

log = logging.getLogger(__name__)

LOG: Table = NotificationLogRow.__table__  # type: ignore[assignment]

CLAIMED = "claimed"
SENT = "sent"
FAILED = "failed"


def digest(*parts: str) -> str:
    """A SHA-256 hex digest of parts joined by a byte no label contains."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def state_hash(firing: Sequence[str], resolved: Sequence[str]) -> str:
    """The hash of a group's state: which alerts it reports firing and which resolved."""
    return digest("firing", *sorted(firing), "resolved", *sorted(resolved))


@dataclass(frozen=True)
class LogEntry:
    id: int
    receiver: str
    group_hash: str
    state_hash: str
    step: int
    firing: tuple[str, ...]
    resolved: tuple[str, ...]
    # Alerts notified firing whose resolution is still owed (muted ones included).
    owed: tuple[str, ...]
    claimed_at: datetime
    status: str
    channel: str | None


class NotificationLog:
    """Claims, finishes and looks up notifications in the notification_log table."""

    def __init__(self, database: Database, replica: str = "local") -> None:
        self._database = database
        self._replica = replica

    def latest(self, receiver: str, group_hash: str) -> tuple[LogEntry | None, LogEntry | None]:
        """The group's latest claim (any status) and its latest successful send."""
        base = (
            select(LOG)
            .where(LOG.c.receiver == receiver, LOG.c.group_hash == group_hash)
            .order_by(LOG.c.id.desc())
            .limit(1)
        )
        with self._database.engine.connect() as connection:
            last = connection.execute(base).first()
            sent = connection.execute(base.where(LOG.c.status == SENT)).first()
        return (
            None if last is None else _entry(last._mapping),
            None if sent is None else _entry(sent._mapping),
        )

    def claim(
        self,
        receiver: str,
        group_key: str,
        firing: Sequence[str],
        resolved: Sequence[str],
        owed: Sequence[str],
        step: int,
        now: datetime,
    ) -> LogEntry | None:
        """Insert the claim; None when the key is taken (someone sent, or is sending, it)."""
        group_hash = digest(group_key)
        state = state_hash(firing, resolved)
        row: dict[str, Any] = {
            "claim_key": digest(receiver, group_hash, state, str(step)),
            "receiver": receiver,
            "group_hash": group_hash,
            "group_key": group_key,
            "state_hash": state,
            "step": step,
            "firing": sorted(firing),
            "resolved": sorted(resolved),
            "claimed_at": now,
            "claimed_by": self._replica,
            "status": CLAIMED,
            "channel": None,
            "finished_at": None,
            "detail": {"owed": sorted(owed)},
        }
        try:
            with self._database.engine.begin() as connection:
                result = connection.execute(LOG.insert(), row)
                entry_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        except IntegrityError:
            log.info(
                "notify.dedup receiver=%s group=%s step=%s reason=already_claimed",
                receiver,
                group_key,
                step,
            )
            return None
        return LogEntry(
            entry_id,
            receiver,
            group_hash,
            state,
            step,
            tuple(row["firing"]),
            tuple(row["resolved"]),
            tuple(sorted(owed)),
            now,
            CLAIMED,
            None,
        )

    def finish(
        self,
        entry_id: int,
        status: str,
        channel: str | None,
        now: datetime,
        detail: Mapping[str, Any],
    ) -> None:
        with self._database.engine.begin() as connection:
            current = connection.execute(select(LOG.c.detail).where(LOG.c.id == entry_id)).first()
            merged = {**(current[0] if current is not None else {}), **detail}
            connection.execute(
                update(LOG)
                .where(LOG.c.id == entry_id)
                .values(status=status, channel=channel, finished_at=now, detail=merged)
            )


def _entry(row: RowMapping) -> LogEntry:
    return LogEntry(
        id=int(row["id"]),
        receiver=row["receiver"],
        group_hash=row["group_hash"],
        state_hash=row["state_hash"],
        step=int(row["step"]),
        firing=tuple(row["firing"]),
        resolved=tuple(row["resolved"]),
        owed=tuple(row["detail"].get("owed", ())),
        claimed_at=row["claimed_at"],
        status=row["status"],
        channel=row["channel"],
    )
