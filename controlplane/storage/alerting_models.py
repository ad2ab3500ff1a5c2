"""The schema of the alerting pipeline: silences and the notification log that dedups sends."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.storage.models import Base
from smsplatform.database.columns import ENUM_LENGTH, MYSQL_TABLE_ARGS, UtcDateTime, big_id

SILENCE_ID_LENGTH = 36  # a UUID in text
NAME_LENGTH = 255
HASH_LENGTH = 64  # a SHA-256 in hex
CHANNEL_LENGTH = 32


class SilenceRow(Base):
    """A silence: alerts matching every matcher are muted between starts_at and ends_at."""

    __tablename__ = "silences"
    __table_args__ = (Index(None, "ends_at"), MYSQL_TABLE_ARGS)

    id: Mapped[str] = mapped_column(String(SILENCE_ID_LENGTH), primary_key=True)
    # [{"name": ..., "op": "=|!=|=~|!~", "value": ...}, ...]
    matchers: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NotificationLogRow(Base):
    """One notification of one group to one receiver, claimed by its unique key before sending.

    claim_key is a digest of (receiver, group key, group state hash, step): a second INSERT of
    the same key fails, so a replica or a restarted process never sends the same state twice.
    """

    __tablename__ = "notification_log"
    __table_args__ = (
        UniqueConstraint("claim_key"),
        Index(None, "receiver", "group_hash", "claimed_at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    claim_key: Mapped[str] = mapped_column(String(HASH_LENGTH))
    receiver: Mapped[str] = mapped_column(String(NAME_LENGTH))
    group_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    group_key: Mapped[str] = mapped_column(Text)
    state_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    step: Mapped[int] = mapped_column(Integer)
    firing: Mapped[list[str]] = mapped_column(JSON)  # fingerprints notified as firing
    resolved: Mapped[list[str]] = mapped_column(JSON)  # fingerprints notified as resolved
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    status: Mapped[str] = mapped_column(String(ENUM_LENGTH))  # claimed | sent | failed
    channel: Mapped[str | None] = mapped_column(String(CHANNEL_LENGTH))
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
