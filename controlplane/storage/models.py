"""The control plane's tables of ingested events: supplier logs, probe results, and its archive
of the receipts and submit results it ingests from the platform it watches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Double,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from smsplatform.database.columns import (
    CODE_LENGTH,
    DEDUP_KEY_LENGTH,
    ENUM_LENGTH,
    ID_LENGTH,
    MYSQL_TABLE_ARGS,
    NAMING_CONVENTION,
    UtcDateTime,
    big_id,
)
from smsplatform.database.event_tables import (
    ReceiptColumns,
    SubmitResultColumns,
    receipt_table_args,
    submit_result_table_args,
)


class Base(DeclarativeBase):
    """The declarative base of every control-plane table (migrated by controlplane/storage)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SupplierLogRow(Base):
    """A supplier adapter's log line; dedup_key is a digest of the whole event."""

    __tablename__ = "supplier_logs"
    __table_args__ = (
        UniqueConstraint("dedup_key"),
        Index(None, "supplier", "at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    supplier: Mapped[str] = mapped_column(String(ID_LENGTH))
    level: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    dedup_key: Mapped[str] = mapped_column(String(DEDUP_KEY_LENGTH))


class ProbeResultRow(Base):
    """One run of one synthetic check against one target."""

    __tablename__ = "probe_results"
    __table_args__ = (
        UniqueConstraint("probe", "target", "at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    probe: Mapped[str] = mapped_column(String(ID_LENGTH))
    target: Mapped[str] = mapped_column(String(ID_LENGTH))
    ok: Mapped[bool] = mapped_column(Boolean)
    latency_ms: Mapped[float] = mapped_column(Double)
    detail: Mapped[str] = mapped_column(Text)
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class ArchivedReceiptRow(ReceiptColumns, Base):
    """A receipt the control plane ingested (over HTTP or the bus) and stored itself."""

    __tablename__ = "archived_receipts"
    __table_args__ = receipt_table_args()


class ArchivedSubmitResultRow(SubmitResultColumns, Base):
    """A submit result the control plane ingested and stored itself."""

    __tablename__ = "archived_submit_results"
    __table_args__ = submit_result_table_args()
