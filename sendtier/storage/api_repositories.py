"""Repositories of the send API's state: the opt-out list and idempotency-key claims."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Table, and_, delete, select, update
from sqlalchemy.exc import IntegrityError

from sendtier.storage.api_models import IdempotencyKeyRow, OptOutRow
from smsplatform.database.columns import RAW_STATUS_LENGTH
from smsplatform.database.engine import Database

OPT_OUTS: Table = OptOutRow.__table__  # type: ignore[assignment]
IDEMPOTENCY_KEYS: Table = IdempotencyKeyRow.__table__  # type: ignore[assignment]


class OptOutRepository:
    """Numbers that opted out of a tenant's marketing; one row per (tenant, number)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def add(self, tenant: str, phone: str, at: datetime, reason: str = "") -> bool:
        """Record the opt-out; False when the number had already opted out (nothing changes)."""
        row = {"tenant": tenant, "phone": phone, "reason": reason[:RAW_STATUS_LENGTH]}
        try:
            with self._database.engine.begin() as connection:
                connection.execute(OPT_OUTS.insert().values(created_at=at, **row))
        except IntegrityError:
            return False
        return True

    def remove(self, tenant: str, phone: str) -> bool:
        """Forget the opt-out (the number opted in again); False when there was none."""
        statement = delete(OPT_OUTS).where(OPT_OUTS.c.tenant == tenant, OPT_OUTS.c.phone == phone)
        with self._database.engine.begin() as connection:
            return connection.execute(statement).rowcount > 0

    def contains(self, tenant: str, phone: str) -> bool:
        statement = select(OPT_OUTS.c.id).where(
            OPT_OUTS.c.tenant == tenant, OPT_OUTS.c.phone == phone
        )
        with self._database.engine.connect() as connection:
            return connection.execute(statement).first() is not None

    def all_by_tenant(self) -> dict[str, set[str]]:
        """Every opted-out number, grouped by tenant."""
        by_tenant: defaultdict[str, set[str]] = defaultdict(set)
        with self._database.engine.connect() as connection:
            for tenant, phone in connection.execute(select(OPT_OUTS.c.tenant, OPT_OUTS.c.phone)):
                by_tenant[tenant].add(phone)
        return dict(by_tenant)


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """A claimed key: who claimed it for which request, and the answer once there is one."""

    tenant: str
    key: str
    fingerprint: str
    created_at: datetime
    status_code: int | None = None
    response: str | None = None
    # What a send the bus took only part of still owes, until a retry publishes it.
    pending: bytes | None = None

    @property
    def completed(self) -> bool:
        return self.status_code is not None


class IdempotencyKeyRepository:
    """Idempotency keys, unique per tenant: the first claim wins, later ones read its answer."""

    def __init__(self, database: Database) -> None:
        self._database = database
        # In IdempotencyRecord's field order.
        names = (
            "tenant",
            "idempotency_key",
            "fingerprint",
            "created_at",
            "status_code",
            "response",
            "pending",
        )
        self._columns = [IDEMPOTENCY_KEYS.c[name] for name in names]

    def claim(
        self, tenant: str, key: str, fingerprint: str, at: datetime, expired_before: datetime
    ) -> IdempotencyRecord | None:
        """Claim the key; None when this call claimed it, else the record of the earlier claim.

        A claim made before `expired_before` no longer counts: it is replaced by this one.
        """
        for _ in range(2):
            try:
                with self._database.engine.begin() as connection:
                    connection.execute(
                        IDEMPOTENCY_KEYS.insert().values(
                            tenant=tenant,
                            idempotency_key=key,
                            fingerprint=fingerprint,
                            created_at=at,
                        )
                    )
                return None
            except IntegrityError:
                existing = self.get(tenant, key)
                if existing is None:
                    continue  # Released between our insert and read: try to claim it again.
                if existing.created_at >= expired_before:
                    return existing
                self._delete(tenant, key, IDEMPOTENCY_KEYS.c.created_at < expired_before)
        existing = self.get(tenant, key)
        if existing is None:
            raise RuntimeError(f"idempotency key {key!r} of {tenant!r} neither claimed nor stored")
        return existing

    def complete(self, tenant: str, key: str, status_code: int, response: str) -> None:
        """Keep the answer given to the claiming request, for its retries."""
        statement = (
            update(IDEMPOTENCY_KEYS)
            .where(*self._key(tenant, key))
            .values(status_code=status_code, response=response, pending=None)
        )
        with self._database.engine.begin() as connection:
            connection.execute(statement)

    def keep_pending(self, tenant: str, key: str, pending: bytes) -> None:
        """Keep what the claiming send still owes, for a retry to finish (`take_pending`)."""
        statement = (
            update(IDEMPOTENCY_KEYS)
            .where(*self._key(tenant, key), IDEMPOTENCY_KEYS.c.status_code.is_(None))
            .values(pending=pending)
        )
        with self._database.engine.begin() as connection:
            connection.execute(statement)

    def take_pending(self, tenant: str, key: str) -> bytes | None:
        """What the claim owes, taken by this caller alone; None if there is none (any more).

        Taken, the claim is in flight again: concurrent retries see it so (409) until the
        taker completes it or keeps what is still owed.
        """
        pending_column = IDEMPOTENCY_KEYS.c.pending
        read = select(pending_column).where(*self._key(tenant, key)).with_for_update()
        take = (
            update(IDEMPOTENCY_KEYS)
            .where(*self._key(tenant, key), pending_column.is_not(None))
            .values(pending=None)
        )
        with self._database.engine.begin() as connection:
            pending = connection.execute(read).scalar_one_or_none()
            if pending is None or connection.execute(take).rowcount != 1:
                return None
        return bytes(pending)

    def release(self, tenant: str, key: str) -> None:
        """Drop a claim whose request sent nothing, so a retry may try again."""
        self._delete(
            tenant,
            key,
            and_(IDEMPOTENCY_KEYS.c.status_code.is_(None), IDEMPOTENCY_KEYS.c.pending.is_(None)),
        )

    def get(self, tenant: str, key: str) -> IdempotencyRecord | None:
        statement = select(*self._columns).where(*self._key(tenant, key))
        with self._database.engine.connect() as connection:
            row = connection.execute(statement).first()
        return None if row is None else IdempotencyRecord(*row)

    def purge(self, before: datetime) -> int:
        """Delete claims made before `before`; returns how many."""
        statement = delete(IDEMPOTENCY_KEYS).where(IDEMPOTENCY_KEYS.c.created_at < before)
        with self._database.engine.begin() as connection:
            return int(connection.execute(statement).rowcount)

    def _delete(self, tenant: str, key: str, condition: ColumnElement[bool]) -> None:
        statement = delete(IDEMPOTENCY_KEYS).where(*self._key(tenant, key), condition)
        with self._database.engine.begin() as connection:
            connection.execute(statement)

    @staticmethod
    def _key(tenant: str, key: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        return IDEMPOTENCY_KEYS.c.tenant == tenant, IDEMPOTENCY_KEYS.c.idempotency_key == key
