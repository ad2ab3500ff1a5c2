"""Concurrent pushes share their storage calls: one call for all that arrived while one ran."""

from __future__ import annotations

import asyncio
import threading

import pytest

from sendtier.receipts.coalescing import Coalesced


async def test_callers_arriving_while_a_call_runs_go_together_in_the_next() -> None:
    release = threading.Event()
    calls: list[list[int]] = []

    def lookup(items: list[int]) -> set[int]:
        calls.append(items)
        if len(calls) == 1:
            release.wait(5)  # the first call is slow: the others queue behind it
        return {item for item in items if item % 2 == 0}

    coalesced: Coalesced[int, set[int]] = Coalesced(lookup)
    first = asyncio.create_task(coalesced([1, 2]))
    await asyncio.sleep(0.05)
    others = [asyncio.create_task(coalesced([n])) for n in (3, 4, 5)]
    await asyncio.sleep(0.05)
    release.set()

    assert await first == {2}
    assert [await task for task in others] == [{4}] * 3
    assert calls == [[1, 2], [3, 4, 5]]


async def test_a_failed_call_fails_every_caller_in_it_and_the_next_call_runs() -> None:
    attempts = 0

    def store(items: list[str]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("storage is down")

    coalesced: Coalesced[str, None] = Coalesced(store)
    with pytest.raises(ConnectionError):
        await coalesced(["a"])
    assert await coalesced(["b"]) is None
    assert attempts == 2
