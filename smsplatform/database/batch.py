"""Idempotent batched inserts: one multi-row INSERT per chunk that skips rows already stored."""

from __future__ import annotations

import logging
import operator
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from sqlalchemy import Connection, Table
from sqlalchemy.exc import OperationalError

from smsplatform.database.columns import UtcDateTime, utc_text
from smsplatform.database.engine import Database

log = logging.getLogger(__name__)

# Rows per INSERT. SQLite allows 32766 bound variables since 3.32 (999 before); MySQL's limit is
# max_allowed_packet (16 MiB by default), far above 500 rows of these tables.
CHUNK_ROWS: Final = 500
SQLITE_MAX_VARIABLES: Final = 32_766
SQLITE_LEGACY_MAX_VARIABLES: Final = 999
# InnoDB deadlock (1213) and lock wait timeout (1205) roll the transaction back, as does SQLite's
# "database is locked" after its busy timeout; the batch is idempotent, so running it again is
# safe. Concurrent upserts into one index can hit either.
RETRYABLE_MYSQL_ERRORS: Final = frozenset({1205, 1213})
MAX_ATTEMPTS: Final = 3

BindProcessor = Callable[[Any], Any]


def cut(length: int) -> BindProcessor:
    """A processor that shortens free-form strings to the column length instead of failing."""

    def shorten(value: str | None) -> str | None:
        return value if value is None or len(value) <= length else value[:length]

    return shorten


class BatchInsert:
    """Writes rows of one table, given in `columns` order, ignoring those that hit a unique key.

    The SQL is built once per chunk size and sent with exec_driver_sql: compiling a 500-row
    INSERT through SQLAlchemy for every batch costs more than the database spends storing it.
    Values still go through each column type's own bind processor, so what lands is exactly
    what an ORM or Core write would store (JSON text, SQLite's booleans); times are rendered as
    text in the format both backends store (models.utc_text), the one shortcut taken.
    """

    def __init__(
        self,
        database: Database,
        table: Table,
        columns: Sequence[str],
        unique_key: Sequence[str],
        cuts: dict[str, int] | None = None,
    ) -> None:
        """`unique_key` names the NOT NULL columns of the unique key duplicates are detected by."""
        self._database = database
        self._table = table
        engine = database.engine
        dialect = engine.dialect
        cuts = cuts or {}
        processors: list[BindProcessor | None] = []
        for name in columns:
            column = table.c[name]
            if isinstance(column.type, UtcDateTime):
                type_processor: BindProcessor | None = utc_text
            else:
                type_processor = column.type.dialect_impl(dialect).bind_processor(dialect)
            processors.append(_chain(cut(cuts[name]) if name in cuts else None, type_processor))
        self._processors = processors
        self._plain = all(processor is None for processor in processors)

        quote = dialect.identifier_preparer.quote
        placeholder = driver_placeholder(dialect.paramstyle)
        column_list = ", ".join(quote(name) for name in columns)
        self._head = f"INSERT INTO {quote(table.name)} ({column_list}) VALUES "
        self._row_sql = "(" + ", ".join([placeholder] * len(columns)) + ")"
        if database.is_mysql:
            # A no-op update of the key: duplicates are skipped and every other error still
            # raises, which INSERT IGNORE would turn into warnings (truncation, bad values).
            key = quote(unique_key[0])
            self._tail = f" ON DUPLICATE KEY UPDATE {key} = {key}"
            # Rows sorted by the unique key take InnoDB's row locks in one order in every
            # transaction: concurrent writers of overlapping batches (redeliveries) then wait
            # for each other instead of deadlocking, nearly always; the retry covers the rest.
            self._sort_key: Callable[[tuple[Any, ...]], Any] | None = operator.itemgetter(
                *(list(columns).index(name) for name in unique_key)
            )
        elif dialect.name == "sqlite":
            self._tail = " ON CONFLICT DO NOTHING"
            self._sort_key = None  # SQLite has one writer at a time: no lock order to keep.
        else:
            raise NotImplementedError(f"batched inserts do not support the {dialect.name} dialect")

        self.chunk_rows = CHUNK_ROWS
        if dialect.name == "sqlite":
            version = getattr(dialect.dbapi, "sqlite_version_info", (0, 0, 0))
            legacy = version < (3, 32)
            limit = SQLITE_LEGACY_MAX_VARIABLES if legacy else SQLITE_MAX_VARIABLES
            self.chunk_rows = min(CHUNK_ROWS, limit // len(columns))
        self._full_chunk_sql = self._sql(self.chunk_rows)

    def write(self, rows: Iterable[tuple[Any, ...]]) -> int:
        """Insert rows (tuples in `columns` order) in one transaction; returns rows offered."""
        if self._sort_key is not None:
            rows = sorted(rows, key=self._sort_key)
        flat = self._flatten(rows)
        width = len(self._processors)
        total = len(flat) // width
        if total == 0:
            return 0
        started = time.perf_counter()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self._database.engine.begin() as connection:
                    statements = self._write_chunks(connection, flat, total, width)
                break
            except OperationalError as exc:
                if attempt == MAX_ATTEMPTS or not _retryable(exc):
                    raise
                log.warning(
                    "storage.batch retry table=%s rows=%d attempt=%d error=%s",
                    self._table.name,
                    total,
                    attempt,
                    exc.orig,
                )
                time.sleep(0.02 * attempt)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "storage.batch table=%s rows=%d statements=%d elapsed_ms=%.2f",
                self._table.name,
                total,
                statements,
                (time.perf_counter() - started) * 1000,
            )
        return total

    def _write_chunks(self, connection: Connection, flat: list[Any], total: int, width: int) -> int:
        statements = 0
        for first in range(0, total, self.chunk_rows):
            count = min(self.chunk_rows, total - first)
            sql = self._full_chunk_sql if count == self.chunk_rows else self._sql(count)
            params = tuple(flat[first * width : (first + count) * width])
            connection.exec_driver_sql(sql, params)
            statements += 1
        return statements

    def _flatten(self, rows: Iterable[tuple[Any, ...]]) -> list[Any]:
        flat: list[Any] = []
        extend = flat.extend
        if self._plain:
            for row in rows:
                extend(row)
            return flat
        processors = self._processors
        for row in rows:
            extend([v if p is None else p(v) for p, v in zip(processors, row, strict=True)])
        return flat

    def _sql(self, rows: int) -> str:
        return self._head + ", ".join([self._row_sql] * rows) + self._tail


def _chain(first: BindProcessor | None, second: BindProcessor | None) -> BindProcessor | None:
    if first is None or second is None:
        return first or second
    return lambda value: second(first(value))


def driver_placeholder(paramstyle: str) -> str:
    """The positional placeholder of a DB-API paramstyle, for SQL sent with exec_driver_sql."""
    if paramstyle == "qmark":
        return "?"
    if paramstyle in ("format", "pyformat"):
        return "%s"  # Positional parameters; pyformat drivers accept %s with a tuple.
    raise NotImplementedError(f"batched inserts do not support paramstyle {paramstyle}")


def _retryable(exc: OperationalError) -> bool:
    args = getattr(exc.orig, "args", ())
    code = args[0] if args else None
    return code in RETRYABLE_MYSQL_ERRORS or "database is locked" in str(exc.orig)
