"""The send tier's tables: its messages, their submits and receipts, and the reports its
receipt gateway took or could not match."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from smsplatform.database.columns import (
    CLASS_LENGTH,
    CODE_LENGTH,
    DEDUP_KEY_LENGTH,
    DURABLE_LENGTH,
    ENUM_LENGTH,
    ID_LENGTH,
    MYSQL_TABLE_ARGS,
    NAMING_CONVENTION,
    PHONE_LENGTH,
    RAW_STATUS_LENGTH,
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
    """The declarative base of every send-tier table (migrated by sendtier/storage)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class MessageRow(Base):
    """A message accepted by the send tier; last_status/updated_at follow its receipts."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("tenant", "idempotency_key"),
        Index(None, "tenant", "created_at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(ID_LENGTH))
    phone: Mapped[str] = mapped_column(String(PHONE_LENGTH))
    carrier: Mapped[str] = mapped_column(String(ID_LENGTH))
    message_class: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    template_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    content: Mapped[str] = mapped_column(Text)
    segments: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_status: Mapped[str | None] = mapped_column(String(ENUM_LENGTH))
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ReceiptRow(ReceiptColumns, Base):
    """A delivery receipt of one of our messages."""

    __tablename__ = "receipts"
    __table_args__ = receipt_table_args()


class SubmitResultRow(SubmitResultColumns, Base):
    """The outcome of one submit of one of our messages to one supplier."""

    __tablename__ = "submit_results"
    __table_args__ = submit_result_table_args()


class OrphanReceiptRow(Base):
    """A supplier report no submit of ours matched (late, foreign or lost): kept, not dropped."""

    __tablename__ = "orphan_receipts"
    __table_args__ = (
        UniqueConstraint("dedup_key"),
        Index(None, "supplier", "supplier_message_id"),
        Index(None, "received_at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    supplier: Mapped[str] = mapped_column(String(ID_LENGTH))
    supplier_message_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    message_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    status: Mapped[str | None] = mapped_column(String(ENUM_LENGTH))
    raw_status: Mapped[str] = mapped_column(String(RAW_STATUS_LENGTH))
    error_code: Mapped[str | None] = mapped_column(String(CODE_LENGTH))
    reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(CLASS_LENGTH))
    # The report's other fields (phone, dialect extras), as the supplier sent them.
    fields: Mapped[dict[str, str]] = mapped_column(JSON)
    dedup_key: Mapped[str] = mapped_column(String(DEDUP_KEY_LENGTH))


class TakenReportRow(Base):
    """A supplier report the receipt gateway took: a replay of it is answered, not published.

    While its submit is not known yet, the report itself is kept here too, by the gateway that
    holds it (held_by), until it is published or kept as an orphan. Old settled rows are purged.
    """

    __tablename__ = "taken_reports"
    __table_args__ = (
        UniqueConstraint("dedup_key"),
        Index(None, "taken_at"),
        Index(None, "held_by"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    # The hex SHA-256 of (supplier, the report's own key, status).
    dedup_key: Mapped[str] = mapped_column(String(DEDUP_KEY_LENGTH))
    supplier: Mapped[str] = mapped_column(String(ID_LENGTH))
    supplier_message_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    status: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    taken_at: Mapped[datetime] = mapped_column(UtcDateTime)
    held_by: Mapped[str | None] = mapped_column(String(DURABLE_LENGTH))
    # The held report as the gateway encodes it; NULL once settled.
    report: Mapped[bytes | None] = mapped_column(LargeBinary)
