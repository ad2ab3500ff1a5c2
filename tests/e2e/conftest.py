"""The backends an end-to-end scenario runs on: memory bus + SQLite, JetStream + MariaDB."""

from __future__ import annotations

from pathlib import Path

import pytest
from system_world import Backend, jetstream_backend, memory_backend


@pytest.fixture(params=["memory+sqlite", "jetstream+mariadb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The test runs once in process on the embedded backends, once on the real services (a
    fresh stream and the session's MariaDB database)."""
    if request.param == "memory+sqlite":
        return memory_backend(tmp_path)
    return jetstream_backend(
        request.getfixturevalue("mariadb_url"),
        request.getfixturevalue("nats_url"),
        request.getfixturevalue("unique_name"),
    )
