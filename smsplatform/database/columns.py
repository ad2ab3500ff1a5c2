"""Column types and sizes every owner's schema shares: UTC times, ids, MySQL table options.

Each service owns its tables (its own declarative base, migrations and version table); what a
column of a given kind looks like is the same everywhere, and is defined here once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer
from sqlalchemy.dialects import mysql
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
