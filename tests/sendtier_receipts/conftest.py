"""Fixtures of the receipt gateway tests: an in-process bus, a migrated database, a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from gateway_helpers import T0

from sendtier.storage import SENDTIER_HISTORY, Database
from smsplatform.bus import MemoryBus
from smsplatform.clock import ManualClock


@pytest.fixture
async def bus() -> AsyncIterator[MemoryBus]:
    memory_bus = MemoryBus()
    await memory_bus.start()
    yield memory_bus
    await memory_bus.close()


@pytest.fixture
def database(sqlite_url: str) -> Database:
    db = Database(sqlite_url)
    db.upgrade(SENDTIER_HISTORY)
    return db


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 + timedelta(seconds=30))
