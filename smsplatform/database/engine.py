"""The database handle: engine setup per backend, each owner's migrations to head, a health ping.

Every service owns its tables and migrates them itself: a MigrationHistory names its Alembic
scripts and the table recording its revision, so histories share a database without meeting.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from smsplatform.database.columns import MYSQL_DIALECTS

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5_000
# Replicas starting together on one MySQL database take turns migrating under this named lock.
MIGRATION_LOCK = "smsctl_migrations"
MIGRATION_LOCK_TIMEOUT_S = 120


@dataclass(frozen=True)
class MigrationHistory:
    """One owner's schema: its Alembic scripts, and the table that records where it stands."""

    name: str
    directory: Path
    version_table: str


def _json_dumps(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (the API, the console) run while persist writes; synchronous=NORMAL is
    # durable across application crashes in WAL mode and much faster than FULL.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _sqlite_memory_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # An in-memory database has no journal file to put in WAL mode; only the busy timeout applies.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


class Database:
    """One database, named by a SQLAlchemy URL: SQLite by default, MySQL/MariaDB/TiDB by PyMySQL."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        options: dict[str, Any] = {
            "json_serializer": _json_dumps,
            "json_deserializer": msgspec.json.decode,
        }
        backend = parsed.get_backend_name()
        in_memory = False
        if backend == "sqlite":
            database = parsed.database or ""
            in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
            if in_memory:
                # One shared connection, or every pooled connection would see its own empty DB.
                options["poolclass"] = StaticPool
                options["connect_args"] = {"check_same_thread": False}
            else:
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        elif backend in MYSQL_DIALECTS:
            if "charset" not in parsed.query:
                parsed = parsed.update_query_dict({"charset": "utf8mb4"})
            # Servers drop idle connections (wait_timeout); ping on checkout and recycle hourly.
            options["pool_pre_ping"] = True
            options["pool_recycle"] = 3600
        self.url = parsed
        self.engine: Engine = create_engine(parsed, **options)
        if backend == "sqlite":
            on_connect = _sqlite_memory_on_connect if in_memory else _sqlite_on_connect
            event.listen(self.engine, "connect", on_connect)

    @property
    def dialect_name(self) -> str:
        """The SQLAlchemy dialect name: "sqlite", "mysql" or "mariadb"."""
        return self.engine.dialect.name

    @property
    def is_mysql(self) -> bool:
        """True on MySQL, MariaDB and TiDB."""
        return self.engine.dialect.name in MYSQL_DIALECTS

    def alembic_config(self, history: MigrationHistory) -> Config:
        """The Alembic configuration of one owner's migrations; no alembic.ini needed."""
        config = Config()
        config.set_main_option("script_location", str(history.directory))
        config.set_main_option("version_table", history.version_table)
        # Alembic's ConfigParser treats % as interpolation; URLs may contain %-escapes.
        safe_url = self.url.render_as_string(hide_password=False).replace("%", "%%")
        config.set_main_option("sqlalchemy.url", safe_url)
        return config

    def upgrade(self, history: MigrationHistory, revision: str = "head") -> None:
        """Migrate `history`'s tables to `revision` (head by default); a no-op when there."""
        started = time.perf_counter()
        safe_url = self.url.render_as_string(hide_password=True)
        config = self.alembic_config(history)
        with self.engine.connect() as connection:
            locked = self._lock_migrations(connection)
            try:
                before = self._revision(connection, history)
                connection.commit()  # Alembic runs its own transaction when none is open.
                log.info(
                    "event=storage.upgrade_start history=%s url=%s dialect=%s from=%s to=%s",
                    history.name,
                    safe_url,
                    self.dialect_name,
                    before,
                    revision,
                )
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                connection.commit()
                after = self._revision(connection, history)
            finally:
                if locked:
                    connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": MIGRATION_LOCK})
                    connection.commit()
        log.info(
            "event=storage.upgrade_done history=%s url=%s from=%s to=%s changed=%s elapsed_ms=%.1f",
            history.name,
            safe_url,
            before,
            after,
            before != after,
            (time.perf_counter() - started) * 1000,
        )

    def current_revision(self, history: MigrationHistory) -> str | None:
        """The revision `history` is at here; None before its first migration."""
        with self.engine.connect() as connection:
            return self._revision(connection, history)

    def ping(self) -> bool:
        """True when the database answers SELECT 1; for /healthz, so it never raises."""
        try:
            with self.engine.connect() as connection:
                return bool(connection.execute(text("SELECT 1")).scalar_one() == 1)
        except Exception as exc:
            log.warning(
                "storage.ping failed dialect=%s error=%s",
                self.dialect_name,
                type(exc).__name__,
            )
            return False

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def _lock_migrations(self, connection: Connection) -> bool:
        if not self.is_mysql:
            return False  # SQLite serializes writers itself.
        acquired = connection.execute(
            text("SELECT GET_LOCK(:name, :timeout)"),
            {"name": MIGRATION_LOCK, "timeout": MIGRATION_LOCK_TIMEOUT_S},
        ).scalar_one()
        connection.commit()  # The lock is per session; the open read transaction is not needed.
        if acquired != 1:
            raise TimeoutError(f"could not take the {MIGRATION_LOCK} lock in time")
        return True

    @staticmethod
    def _revision(connection: Connection, history: MigrationHistory) -> str | None:
        context = MigrationContext.configure(
            connection, opts={"version_table": history.version_table}
        )
        return context.get_current_revision()
