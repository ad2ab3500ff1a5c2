"""The `bus` fixture: every bus test runs on the memory bus and on NATS JetStream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from smsplatform.bus import Bus, JetStreamBus, MemoryBus


@pytest.fixture(params=["memory", "jetstream"])
async def bus(request: pytest.FixtureRequest, unique_name: str) -> AsyncIterator[Bus]:
    """A started bus of each backend; JetStream gets its own stream and namespace per test."""
    started: MemoryBus | JetStreamBus
    if request.param == "memory":
        started = MemoryBus()
    else:
        nats_url = str(request.getfixturevalue("nats_url"))
        started = JetStreamBus(nats_url, stream=unique_name, namespace=unique_name)
    await started.start()
    try:
        yield started
    finally:
        if isinstance(started, JetStreamBus):
            await started.delete_stream()
        await started.close()
