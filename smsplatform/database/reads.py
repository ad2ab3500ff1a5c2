"""Small reads every repository makes: a count, a fetch, and the size of an IN-list chunk."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, Table, func, select

from smsplatform.database.engine import Database

# Ids are looked up in chunks of this many, well under every backend's bound-variable limit.
LOOKUP_CHUNK = 500


def count_rows(database: Database, table: Table, where: ColumnElement[bool] | None = None) -> int:
    """How many rows `table` holds (where `where` holds)."""
    statement = select(func.count()).select_from(table)
    if where is not None:
        statement = statement.where(where)
    with database.engine.connect() as connection:
        return int(connection.execute(statement).scalar_one())


def fetch_rows(database: Database, statement: Select[Any]) -> list[Any]:
    """Every row `statement` selects."""
    with database.engine.connect() as connection:
        return list(connection.execute(statement))
