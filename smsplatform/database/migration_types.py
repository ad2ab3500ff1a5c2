"""Column types the hand-written migrations share.

Frozen: revisions that have already run on someone's database depend on these exact types. Add a
new helper when a later revision needs another type; never change one of these.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

MYSQL_TABLE_ARGS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def utc_type() -> sa.types.TypeEngine[Any]:
    # Naive UTC; DATETIME(6) on MySQL keeps microseconds (plain DATETIME would drop them).
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def utc_column(name: str, *, nullable: bool) -> sa.Column[Any]:
    return sa.Column(name, utc_type(), nullable=nullable)


def big_id_type() -> sa.types.TypeEngine[Any]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")
