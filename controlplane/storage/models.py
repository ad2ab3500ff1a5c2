"""The database schema: typed SQLAlchemy 2 models of messages and the events the platform stores."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

MYSQL_DIALECTS = frozenset({"mysql", "mariadb"})

# Column lengths. Contract ids are at most 128 characters (contracts.NonEmpty); free-form codes
# the contracts leave unbounded are cut to these lengths by the repositories, not rejected.
ID_LENGTH = 128
CODE_LENGTH = 128
RAW_STATUS_LENGTH = 255
PHONE_LENGTH = 32
ENUM_LENGTH = 16
DEDUP_KEY_LENGTH = 64
# Submit error classes (sendtier SubmitErrorClass) and orphan receipt reasons.
CLASS_LENGTH = 32
# Names of bus durables (the receipt gateway's holder name is its index durable).
DURABLE_LENGTH = 64
# Free text in a TEXT column: MariaDB's holds 65,535 bytes, 4 per utf8mb4 character at most.
TEXT_CHARS = 16_383

# Every table on MySQL: InnoDB, utf8mb4, and a binary collation so ids compare case-sensitively
# as they do on SQLite ("ab" and "AB" are two message ids, not one duplicate).
MYSQL_TABLE_ARGS: dict[str, str] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}

# Deterministic constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime, stored naive in UTC (DATETIME(6) on MySQL: microseconds)."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in MYSQL_DIALECTS:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else naive_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def naive_utc(value: datetime) -> datetime:
    """The UTC wall time of an aware datetime, without tzinfo, as the columns store it."""
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            # A naive time has no meaning across services; refusing it finds the bug at its source.
            raise ValueError(f"naive datetime {value!r} given; use a timezone-aware UTC time")
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None)


def utc_text(value: datetime | None) -> str | None:
    """The stored text of a time, "YYYY-MM-DD HH:MM:SS.ffffff" in UTC, for batched inserts.

    It is SQLAlchemy's SQLite storage format and a DATETIME(6) literal on MySQL; PyMySQL
    escapes this string three times faster than it formats a datetime.
    """
    if value is None:
        return None
    if value.tzinfo is UTC:
        # isoformat ends in "+00:00" here; cutting it is cheaper than replace(tzinfo=None).
        return value.isoformat(" ", "microseconds")[:26]
    return naive_utc(value).isoformat(" ", "microseconds")


def big_id() -> BigInteger:
    """An autoincrement id: BIGINT on MySQL, INTEGER on SQLite (the rowid alias autoincrements)."""
    return BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """The declarative base of every storage model."""

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


class ReceiptRow(Base):
    """A delivery receipt; one row per (message id, status), however often it is redelivered."""

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("message_id", "status"),
        Index(None, "supplier", "reported_at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    supplier: Mapped[str] = mapped_column(String(ID_LENGTH))
    carrier: Mapped[str] = mapped_column(String(ID_LENGTH))
    message_class: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    status: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    raw_status: Mapped[str | None] = mapped_column(String(RAW_STATUS_LENGTH))
    error_code: Mapped[str | None] = mapped_column(String(CODE_LENGTH))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Receipts stored from a degradation sample stand for 1/sample_ratio receipts each.
    weight: Mapped[float] = mapped_column(Double, server_default=text("1"))


class SubmitResultRow(Base):
    """The outcome of one submit of one message to one supplier."""

    __tablename__ = "submit_results"
    __table_args__ = (
        UniqueConstraint("message_id", "supplier", "at"),
        Index(None, "supplier", "at"),
        # Receipts find their submit by the supplier's own id (SUPPLIERS.md §6).
        Index(None, "supplier", "supplier_message_id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(big_id(), primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    supplier: Mapped[str] = mapped_column(String(ID_LENGTH))
    carrier: Mapped[str] = mapped_column(String(ID_LENGTH))
    message_class: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    accepted: Mapped[bool] = mapped_column(Boolean)
    error_code: Mapped[str | None] = mapped_column(String(CODE_LENGTH))
    latency_ms: Mapped[float] = mapped_column(Double)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    supplier_message_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    attempt: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    error_class: Mapped[str | None] = mapped_column(String(CLASS_LENGTH))


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
