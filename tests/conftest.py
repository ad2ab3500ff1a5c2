"""Shared fixtures: real MariaDB and NATS JetStream, never silently skipped."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pymysql
import pytest

MARIADB_HOST, MARIADB_PORT = "127.0.0.1", 3306
NATS_HOST, NATS_PORT = "127.0.0.1", 4222

MARIADB_START = "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd"
NATS_START = (
    "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- "
    "-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log"
)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def _fresh_mariadb_database() -> Iterator[str]:
    """A new database on the local MariaDB, dropped when the block exits; yields its URL.

    Fails (never skips) when MariaDB is down, naming the start command.
    """
    if not _port_open(MARIADB_HOST, MARIADB_PORT):
        pytest.fail(
            f"MariaDB is not reachable on {MARIADB_HOST}:{MARIADB_PORT}; start it: {MARIADB_START}"
        )
    name = f"smsctl_test_{uuid.uuid4().hex[:12]}"
    admin = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user="root", password="")
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield f"mysql+pymysql://root@{MARIADB_HOST}:{MARIADB_PORT}/{name}?charset=utf8mb4"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[str]:
    """A fresh database on the local MariaDB for this test session, dropped afterwards."""
    with _fresh_mariadb_database() as url:
        yield url


@pytest.fixture(scope="session")
def new_mariadb_database() -> Callable[[], AbstractContextManager[str]]:
    """Makes databases of their own for fixtures of a wider scope than one test (a package's
    served stack): `with new_mariadb_database() as url:`; other tests never empty them."""
    return _fresh_mariadb_database


@pytest.fixture
def mariadb_url(mariadb_server: str) -> Iterator[str]:
    """The session's MariaDB database, emptied of tables after each test: tests stay independent."""
    yield mariadb_server
    name = mariadb_server.rsplit("/", 1)[1].split("?", 1)[0]
    conn = pymysql.connect(
        host=MARIADB_HOST, port=MARIADB_PORT, user="root", password="", database=name
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
            cursor.execute("SHOW TABLES")
            for (table,) in cursor.fetchall():
                cursor.execute(f"DROP TABLE `{table}`")
    finally:
        conn.close()


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/smsctl.db"


@pytest.fixture(params=["sqlite", "mariadb"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on MariaDB."""
    fixture = "sqlite_url" if request.param == "sqlite" else "mariadb_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def nats_url() -> str:
    """The local NATS JetStream server; fails (never skips) when down, naming the start command."""
    if not _port_open(NATS_HOST, NATS_PORT):
        pytest.fail(f"NATS is not reachable on {NATS_HOST}:{NATS_PORT}; start it: {NATS_START}")
    return f"nats://{NATS_HOST}:{NATS_PORT}"


@pytest.fixture
def unique_name() -> str:
    """A name no other test uses: for JetStream streams and subject namespaces."""
    return f"t{uuid.uuid4().hex[:12]}"
