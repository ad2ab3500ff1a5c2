"""The persist-latency trigger end to end: with the send tier's persistence storing receipts in
the same process (as under `make run`, where the control plane's own persister is off), a slow
database is seen by the control plane and degrades status reports."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from outcome_checks import wait_for
from steady_traffic import steady_traffic
from system_world import RunningSystem, memory_backend, running_system

from controlplane.storage import Database

# Receipt batches take a few milliseconds here; a mean of 40 ms or more samples marketing.
# (The reading is the mean over the batches of an interval: the one held up by the lock, and
# the quick ones that catch up after it.)
PERSIST_LATENCY: dict[str, Any] = {
    "evaluate_interval_s": 0.5,
    "min_dwell_up_s": 0.0,
    "triggers": {"persist_latency": {"levels": {"sample": {"enter": 0.04, "exit": 0.02}}}},
}
LOCK_S = 1.0  # how long the database refuses writes


def _hold_write_lock(database: Database, seconds: float) -> None:
    """Another writer holds the SQLite database for `seconds`: every write waits for it."""
    with database.engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute("BEGIN IMMEDIATE")
        time.sleep(seconds)
        raw.rollback()


async def _degradation(system: RunningSystem) -> dict[str, Any]:
    answer = await system.http.get("/v1/degradation", params={"history": 100})
    assert answer.status_code == 200, answer.text
    state: dict[str, Any] = answer.json()
    return state


async def test_slow_receipt_storage_in_the_send_tier_raises_the_persist_latency_reading(
    tmp_path: Path,
) -> None:
    overrides = {"degradation": PERSIST_LATENCY}
    backend = memory_backend(tmp_path)
    async with running_system(backend, tmp_path, settings_overrides=overrides) as system:
        async with steady_traffic(system.api_url, system.tenant_token, 30.0):
            await asyncio.sleep(2)
            current = (await _degradation(system))["current"]
            assert current is None or current["level"] == "normal"  # fast writes
            lock = asyncio.create_task(
                asyncio.to_thread(_hold_write_lock, system.services.database, LOCK_S)
            )

            async def sampled() -> bool:
                current = (await _degradation(system))["current"]
                return current is not None and current["level"] == "sample"

            await wait_for(sampled, 10, "degradation to sample on slow storage", poll_s=0.2)
            await lock
        history = (await _degradation(system))["history"]

    [entered] = [version for version in history if version["level"] == "sample"]
    assert entered["changed_by"] == "auto"
    assert entered["evidence"]["readings"]["persist_latency"] >= 0.04, entered["evidence"]
