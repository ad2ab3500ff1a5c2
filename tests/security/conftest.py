"""The served stack of the security tests: one per test module, on a database of its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
from security_world import Stack, serving_stack


@pytest.fixture(scope="module")
def stack(
    new_mariadb_database: Callable[[], AbstractContextManager[str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("security")
    with new_mariadb_database() as database_url, serving_stack(database_url, directory) as served:
        yield served
