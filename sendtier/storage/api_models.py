"""Storage models of the send API's own state: marketing opt-outs and idempotency-key claims."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from sendtier.storage.models import Base
from smsplatform.database.columns import (
    ID_LENGTH,
    MYSQL_TABLE_ARGS,
    PHONE_LENGTH,
    RAW_STATUS_LENGTH,
    UtcDateTime,
    big_id,
)

FINGERPRINT_LENGTH = 64  # hex SHA-256

# A batch answer names up to 1,000 messages (~60 KB of JSON): more than MySQL's TEXT holds.
ResponseText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
# The messages of such a batch not yet on the bus (~300 KB at most): more than MySQL's BLOB holds.
PendingBlob = LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")


class OptOutRow(Base):
    """A number that asked one tenant to stop marketing messages."""

    __tablename__ = "opt_outs"
    __table_args__ = (UniqueConstraint("tenant", "phone"), MYSQL_TABLE_ARGS)

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(ID_LENGTH))
    phone: Mapped[str] = mapped_column(String(PHONE_LENGTH))
    reason: Mapped[str] = mapped_column(String(RAW_STATUS_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class IdempotencyKeyRow(Base):
    """A client's Idempotency-Key, claimed before the send; the answer is kept once it is known."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("tenant", "idempotency_key"),
        Index(None, "created_at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(ID_LENGTH))
    idempotency_key: Mapped[str] = mapped_column(String(ID_LENGTH))
    # Digest of the request the key was first used with: another request under it is refused.
    fingerprint: Mapped[str] = mapped_column(String(FINGERPRINT_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Both NULL while the first request is still in flight.
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(ResponseText)
    # Set while a send that the bus took only part of waits for its retry: what is left to
    # publish and the answer to give once it is (opaque to storage; see sendtier.api).
    pending: Mapped[bytes | None] = mapped_column(PendingBlob)
