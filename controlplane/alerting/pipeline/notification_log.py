"""The notification log: a claim per (receiver, group, state, step) taken before each send.

The unique claim key makes the database the arbiter: of two replicas, or a process and its
restarted self, only the one whose INSERT succeeds sends; the other sees it was done.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, RowMapping, Table, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from controlplane.storage import Database
from controlplane.storage.alerting_models import NotificationLogRow

log = logging.getLogger(__name__)

LOG: Table = NotificationLogRow.__table__  # type: ignore[assignment]

Item = TypeVar("Item")

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


def notification_id(*entries: LogEntry) -> str:
    """The id of the message sent for these claims: the same in every process and replica.

    Channels that deduplicate (the alert SMS' Idempotency-Key) rest on it, so a send retried
    after its process died is known downstream as the one that may already have gone out.
    """
    keys = (f"{e.receiver}\x01{e.group_hash}\x01{e.state_hash}\x01{e.step}" for e in entries)
    return digest("notification", *keys)[:32]


@dataclass(frozen=True)
class Claim:
    """A group state about to be sent: what the log row records before the send."""

    receiver: str
    group_key: str
    firing: Sequence[str]
    resolved: Sequence[str]
    owed: Sequence[str]  # alerts notified firing whose resolution is still owed
    step: int


@dataclass(frozen=True)
class Finished:
    """How a claimed send ended, for its log row."""

    entry: LogEntry
    status: str
    channel: str | None
    at: datetime
    detail: Mapping[str, Any]


# Rows per statement when a batch is written or looked up (keeps IN lists and packets small).
CHUNK = 500
_FINISH = (
    update(LOG)
    .where(LOG.c.id == bindparam("entry_id"))
    .values(
        status=bindparam("new_status"),
        channel=bindparam("new_channel"),
        finished_at=bindparam("done_at"),
        detail=bindparam("new_detail", type_=LOG.c.detail.type),
    )
)


def _chunks(items: Sequence[Item]) -> Iterator[Sequence[Item]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


class NotificationLog:
    """Claims, finishes and looks up notifications in the notification_log table, in batches.

    One tick flushes hundreds of groups: each step is a few statements for all of them, not a
    few per group (one transaction per group made a 500-group flush take seconds on MariaDB).
    """

    def __init__(self, database: Database, replica: str = "local") -> None:
        self._database = database
        self._replica = replica

    def latest_many(
        self, groups: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[LogEntry | None, LogEntry | None]]:
        """Per (receiver, group hash): the latest claim (any status) and latest successful send."""
        wanted = set(groups)
        found = self.latest_of(sorted({group_hash for _, group_hash in wanted}))
        return {key: entries for key, entries in found.items() if key in wanted}

    def latest_of(
        self, group_hashes: Sequence[str]
    ) -> dict[tuple[str, str], tuple[LogEntry | None, LogEntry | None]]:
        """The same, for every receiver that has an entry for any of the group hashes."""
        found: dict[tuple[str, str], tuple[LogEntry | None, LogEntry | None]] = {}
        with self._database.engine.connect() as connection:
            for chunk in _chunks(group_hashes):
                newest = (
                    select(func.max(LOG.c.id))
                    .where(LOG.c.group_hash.in_(chunk))
                    .group_by(LOG.c.receiver, LOG.c.group_hash)
                )
                newest_sent = newest.where(LOG.c.status == SENT)
                statement = (
                    select(LOG)
                    .where(or_(LOG.c.id.in_(newest), LOG.c.id.in_(newest_sent)))
                    .order_by(LOG.c.id)
                )
                for row in connection.execute(statement):
                    entry = _entry(row._mapping)
                    key = (entry.receiver, entry.group_hash)
                    _, sent = found.get(key, (None, None))
                    # Ascending ids: the last row seen is the latest; a sent one also updates sent.
                    found[key] = (entry, entry if entry.status == SENT else sent)
        return found

    def claim_many(self, claims: Sequence[Claim], now: datetime) -> list[LogEntry | None]:
        """Insert the claims in one transaction; None where the key is taken (sent or sending).

        The keys already in the table are skipped; should another replica insert one of the rest
        in between, the unique key refuses the batch and each claim is tried on its own.
        """
        rows = [self._row(claim, now) for claim in claims]
        try:
            with self._database.engine.begin() as connection:
                ids = self._insert_new(connection, rows)
        except IntegrityError:
            log.info("notify.claim_race claims=%d: claiming one by one", len(rows))
            return [self._claim_one(row) for row in rows]
        entries: list[LogEntry | None] = []
        for row in rows:
            # A key inserted here belongs to its first row only; a repeat of it is a duplicate.
            entry_id = ids.pop(row["claim_key"], None)
            entries.append(None if entry_id is None else _claimed(row, entry_id))
        return entries

    def finish_many(self, finished: Sequence[Finished]) -> None:
        """Record each send's outcome on its claim, in one transaction."""
        if not finished:
            return
        params = [
            {
                "entry_id": done.entry.id,
                "new_status": done.status,
                "new_channel": done.channel,
                "done_at": done.at,
                "new_detail": {"owed": list(done.entry.owed), **done.detail},
            }
            for done in finished
        ]
        with self._database.engine.begin() as connection:
            connection.execute(_FINISH, params)

    def _row(self, claim: Claim, now: datetime) -> dict[str, Any]:
        group_hash = digest(claim.group_key)
        state = state_hash(claim.firing, claim.resolved)
        return {
            "claim_key": digest(claim.receiver, group_hash, state, str(claim.step)),
            "receiver": claim.receiver,
            "group_hash": group_hash,
            "group_key": claim.group_key,
            "state_hash": state,
            "step": claim.step,
            "firing": sorted(claim.firing),
            "resolved": sorted(claim.resolved),
            "claimed_at": now,
            "claimed_by": self._replica,
            "status": CLAIMED,
            "channel": None,
            "finished_at": None,
            "detail": {"owed": sorted(claim.owed)},
        }

    @staticmethod
    def _insert_new(connection: Connection, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
        """Insert the rows whose key is free (each key once); returns their ids by key."""
        keys = [row["claim_key"] for row in rows]
        taken: set[str] = set()
        for chunk in _chunks(keys):
            taken.update(
                connection.execute(select(LOG.c.claim_key).where(LOG.c.claim_key.in_(chunk)))
                .scalars()
                .all()
            )
        fresh: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row["claim_key"] in taken or row["claim_key"] in fresh:
                log.info(
                    "notify.dedup receiver=%s group=%s step=%s reason=already_claimed",
                    row["receiver"],
                    row["group_key"],
                    row["step"],
                )
            else:
                fresh[row["claim_key"]] = row
        ids: dict[str, int] = {}
        for chunk in _chunks(list(fresh.values())):
            connection.execute(LOG.insert(), chunk)
            statement = select(LOG.c.claim_key, LOG.c.id).where(
                LOG.c.claim_key.in_([row["claim_key"] for row in chunk])
            )
            ids.update({key: int(entry_id) for key, entry_id in connection.execute(statement)})
        return ids

    def _claim_one(self, row: dict[str, Any]) -> LogEntry | None:
        try:
            with self._database.engine.begin() as connection:
                result = connection.execute(LOG.insert(), row)
                entry_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        except IntegrityError:
            log.info(
                "notify.dedup receiver=%s group=%s step=%s reason=already_claimed",
                row["receiver"],
                row["group_key"],
                row["step"],
            )
            return None
        return _claimed(row, entry_id)


def _claimed(row: Mapping[str, Any], entry_id: int) -> LogEntry:
    return LogEntry(
        entry_id,
        row["receiver"],
        row["group_hash"],
        row["state_hash"],
        row["step"],
        tuple(row["firing"]),
        tuple(row["resolved"]),
        tuple(row["detail"]["owed"]),
        row["claimed_at"],
        CLAIMED,
        None,
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
