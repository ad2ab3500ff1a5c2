"""Fixtures of the notifier tests: a started in-process bus, closed afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from smsplatform.bus import MemoryBus


@pytest.fixture
async def bus() -> AsyncIterator[MemoryBus]:
    memory_bus = MemoryBus()
    await memory_bus.start()
    try:
        yield memory_bus
    finally:
        await memory_bus.close()
