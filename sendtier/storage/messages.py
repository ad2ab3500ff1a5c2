"""The message repository: accepted messages, idempotent by id and by (tenant, idempotency key)."""

from __future__ import annotations

import logging
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Table, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from sendtier.storage.models import MessageRow
from smsplatform.contracts import MessageClass
from smsplatform.database.batch import BatchInsert, driver_placeholder
from smsplatform.database.columns import utc_text
from smsplatform.database.engine import Database

log = logging.getLogger(__name__)

MESSAGES: Table = MessageRow.__table__  # type: ignore[assignment]
# Statuses no later receipt may replace (SUPPLIERS.md §7.1); UNKNOWN is not one of them.
FINAL_STATUSES: Final = frozenset({"DELIVERED", "FAILED", "EXPIRED", "REJECTED"})
# Message ids per SELECT ... IN, well under every backend's bound-variable limit.
_LOOKUP_CHUNK: Final = 500
# The final statuses as SQL string literals (fixed words: no quoting concerns).
_FINAL_LIST: Final = ", ".join(f"'{status}'" for status in sorted(FINAL_STATUSES))


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as the send tier accepted it, with the last status its receipts reported."""

    id: str
    tenant: str
    phone: str
    carrier: str
    message_class: MessageClass
    template_id: str
    content: str
    segments: int
    created_at: datetime
    idempotency_key: str | None = None
    last_status: str | None = None
    updated_at: datetime | None = None


MESSAGE_FIELDS = tuple(field.name for field in fields(StoredMessage))
# dataclasses.astuple deep-copies every value; a plain getter is all a row needs.
_message_values = operator.attrgetter(*MESSAGE_FIELDS)


class MessageRepository:
    """Accepted messages; storing one again, or another under its idempotency key, is a no-op."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._insert = BatchInsert(database, MESSAGES, MESSAGE_FIELDS, unique_key=("id",))
        self._columns = [MESSAGES.c[name] for name in MESSAGE_FIELDS]
        # Status reads and updates run per receipt batch: their SQL is written here once and
        # sent with exec_driver_sql, since building and compiling a 500-branch CASE through
        # SQLAlchemy for every batch cost more CPU than the database spent running it.
        self._mark = driver_placeholder(database.engine.dialect.paramstyle)
        # Each status update binds 5 values; BatchInsert's chunk keeps 12 per row in bounds.
        self._status_chunk = min(_LOOKUP_CHUNK, self._insert.chunk_rows)

    def add(self, message: StoredMessage) -> StoredMessage:
        """Store the message; returns what is stored, which is an earlier message on a replay.

        A replay is a message whose id, or whose (tenant, idempotency key), is already stored:
        the caller answers its client with the earlier message instead of sending again.
        """
        try:
            with self._database.engine.begin() as connection:
                row = dict(zip(MESSAGE_FIELDS, _message_values(message), strict=True))
                connection.execute(MESSAGES.insert().values(row))
            return message
        except IntegrityError:
            stored = self._replayed(message)
            if stored is None:
                raise  # A constraint other than the two keys failed: not a replay.
            log.info(
                "storage.message replay id=%s tenant=%s idempotency_key=%s stored_id=%s",
                message.id,
                message.tenant,
                message.idempotency_key,
                stored.id,
            )
            return stored

    def add_batch(self, messages: Sequence[StoredMessage]) -> None:
        """Store the messages in one transaction; replays (by id or idempotency key) are skipped."""
        self._insert.write(_message_values(message) for message in messages)

    def get(self, message_id: str) -> StoredMessage | None:
        """The stored message with this id, or None."""
        return self._one(MESSAGES.c.id == message_id)

    def by_idempotency_key(self, tenant: str, idempotency_key: str) -> StoredMessage | None:
        """The tenant's message stored under this idempotency key, or None."""
        return self._one(
            and_(MESSAGES.c.tenant == tenant, MESSAGES.c.idempotency_key == idempotency_key)
        )

    def update_status(self, message_id: str, status: str, at: datetime) -> bool:
        """Record the message's latest status; an older report than the stored one is ignored.

        Returns True when it was recorded. Receipts arrive out of order, so the newest `at` wins.
        """
        statement = (
            update(MESSAGES)
            .where(
                MESSAGES.c.id == message_id,
                or_(MESSAGES.c.updated_at.is_(None), MESSAGES.c.updated_at <= at),
            )
            .values(last_status=status, updated_at=at)
        )
        with self._database.engine.begin() as connection:
            return connection.execute(statement).rowcount > 0

    def statuses(self, message_ids: Iterable[str]) -> dict[str, str | None]:
        """The last status of each stored message among `message_ids`; unknown ids are left out."""
        wanted = sorted(set(message_ids))
        found: dict[str, str | None] = {}
        with self._database.engine.connect() as connection:
            for first in range(0, len(wanted), _LOOKUP_CHUNK):
                chunk = tuple(wanted[first : first + _LOOKUP_CHUNK])
                sql = f"SELECT id, last_status FROM messages WHERE id IN ({self._marks(chunk)})"
                rows = connection.exec_driver_sql(sql, chunk)
                found.update((message_id, status) for message_id, status in rows)
        return found

    def set_statuses_unless_final(self, updates: Sequence[tuple[str, str, datetime]]) -> int:
        """Set (message id, status, reported at) where the stored status is not final yet.

        One UPDATE per chunk of ids (a CASE per column), not one per message. Its guard keeps
        the first final status even when another writer got there between the caller's read
        and this write. Returns rows changed; at most one update per message id is expected.
        """
        ordered = sorted(updates)  # one lock order for concurrent writers: no deadlocks
        changed = 0
        with self._database.engine.begin() as connection:
            for first in range(0, len(ordered), self._status_chunk):
                chunk = ordered[first : first + self._status_chunk]
                when = " ".join([f"WHEN {self._mark} THEN {self._mark}"] * len(chunk))
                sql = (
                    f"UPDATE messages SET last_status = CASE id {when} END, "
                    f"updated_at = CASE id {when} END "
                    f"WHERE id IN ({self._marks(chunk)}) AND "
                    f"(last_status IS NULL OR last_status NOT IN ({_FINAL_LIST}))"
                )
                params: list[str | None] = []
                for message_id, status, _ in chunk:
                    params += (message_id, status)
                for message_id, _, at in chunk:
                    params += (message_id, utc_text(at))
                params += (message_id for message_id, _, _ in chunk)
                changed += connection.exec_driver_sql(sql, tuple(params)).rowcount
        return changed

    def _marks(self, values: Sequence[object]) -> str:
        return ", ".join([self._mark] * len(values))

    def count(self) -> int:
        """How many messages are stored."""
        with self._database.engine.connect() as connection:
            statement = select(func.count()).select_from(MESSAGES)
            return int(connection.execute(statement).scalar_one())

    def _replayed(self, message: StoredMessage) -> StoredMessage | None:
        stored = self.get(message.id)
        if stored is None and message.idempotency_key is not None:
            stored = self.by_idempotency_key(message.tenant, message.idempotency_key)
        return stored

    def _one(self, where: Any) -> StoredMessage | None:
        with self._database.engine.connect() as connection:
            row = connection.execute(select(*self._columns).where(where)).first()
        return None if row is None else StoredMessage(*row)
