"""The schema of escalations: which alert groups escalate, which steps were claimed, acks, calls."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.storage.alert_models import FINGERPRINT_LENGTH
from controlplane.storage.models import Base
from smsplatform.database.columns import ENUM_LENGTH, MYSQL_TABLE_ARGS, UtcDateTime, big_id

GROUP_HASH_LENGTH = 64  # SHA-256 hex of the group key: group keys are too long to index on MySQL
NAME_LENGTH = 255
CALL_ID_LENGTH = 128


class EscalationRow(Base):
    """One escalation episode of an alert group: from the time it fired until ack or resolve."""

    __tablename__ = "escalations"
    __table_args__ = (
        # Replicas starting the same episode agree on (group, fired at): one row, not two.
        UniqueConstraint("group_hash", "started_at"),
        Index(None, "resolved_at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    group_hash: Mapped[str] = mapped_column(String(GROUP_HASH_LENGTH))
    group_key: Mapped[str] = mapped_column(Text)
    chain: Mapped[str] = mapped_column(String(NAME_LENGTH))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    acked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acked_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    acked_via: Mapped[str | None] = mapped_column(String(ENUM_LENGTH))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class EscalationAlertRow(Base):
    """An alert belonging to an escalating group, so an ack by fingerprint finds the group."""

    __tablename__ = "escalation_alerts"
    __table_args__ = (Index(None, "fingerprint"), MYSQL_TABLE_ARGS)

    escalation_id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=False)
    fingerprint: Mapped[str] = mapped_column(String(FINGERPRINT_LENGTH), primary_key=True)


class EscalationStepRow(Base):
    """A step of an episode, claimed before it is sent: the primary key is the claim."""

    __tablename__ = "escalation_steps"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    escalation_id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=False)
    step: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class VoiceCallRow(Base):
    """A voice call by its CallId or OutId, and the escalation episode it was placed for, so a
    key press in its callback acks that episode and no later one of the group."""

    __tablename__ = "voice_calls"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    call_id: Mapped[str] = mapped_column(String(CALL_ID_LENGTH), primary_key=True)
    group_key: Mapped[str] = mapped_column(Text)
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # None: placed for no episode (a receiver's own voice channel, a digest), or before 0010.
    escalation_id: Mapped[int | None] = mapped_column(big_id(), autoincrement=False)
