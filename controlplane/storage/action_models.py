"""The schema of the control plane's actions: every routing-table and degradation-policy version.

A version number is the primary key, so two replicas that both try to write version N agree on
one winner: the loser's insert fails and it reloads the newest version before deciding again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Double, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.storage.models import Base
from smsplatform.database.columns import CLASS_LENGTH, MYSQL_TABLE_ARGS, UtcDateTime

ACTOR_LENGTH = 255


class RoutingVersionRow(Base):
    """One version of the routing table, whole, with who or what made it and why."""

    __tablename__ = "routing_versions"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    changed_by: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    reason: Mapped[str] = mapped_column(Text)
    # The RoutingTable as msgpack (contracts.encode): the exact bytes published on cp.routing.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # JSON of what triggered the change: rule, alert fingerprint, values seen.
    evidence: Mapped[str] = mapped_column(Text)


class DegradationVersionRow(Base):
    """One version of the status-report degradation policy, with who or what set it and why."""

    __tablename__ = "degradation_versions"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    level: Mapped[str] = mapped_column(String(CLASS_LENGTH))
    sample_ratio: Mapped[float] = mapped_column(Double)
    until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    changed_by: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    reason: Mapped[str] = mapped_column(Text)
    # JSON of the readings that triggered the change (ingest rate, bus lag, persist latency).
    evidence: Mapped[str] = mapped_column(Text)
