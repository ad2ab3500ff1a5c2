"""The schema of alert state and alert history, so alerts survive restarts and can be audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Double, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.storage.models import Base
from smsplatform.database.columns import ENUM_LENGTH, MYSQL_TABLE_ARGS, UtcDateTime, big_id

FINGERPRINT_LENGTH = 16
RULE_KEY_LENGTH = 255


class AlertRow(Base):
    """The current state of one alert: one label set of one rule."""

    __tablename__ = "alerts"
    __table_args__ = (Index(None, "rule_key"), Index(None, "state"), MYSQL_TABLE_ARGS)

    fingerprint: Mapped[str] = mapped_column(String(FINGERPRINT_LENGTH), primary_key=True)
    rule_key: Mapped[str] = mapped_column(String(RULE_KEY_LENGTH))  # "<group>/<alert name>"
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    annotations: Mapped[dict[str, str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    value: Mapped[float | None] = mapped_column(Double)
    active_since: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    keep_firing_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_evaluated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AlertHistoryRow(Base):
    """Something that happened to an alert: a state change, a notification, an ack, a silence."""

    __tablename__ = "alert_history"
    __table_args__ = (Index(None, "fingerprint", "at"), MYSQL_TABLE_ARGS)

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(FINGERPRINT_LENGTH))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(32))  # state | notification | ack | silence
    from_state: Mapped[str | None] = mapped_column(String(ENUM_LENGTH))
    to_state: Mapped[str | None] = mapped_column(String(ENUM_LENGTH))
    value: Mapped[float | None] = mapped_column(Double)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
