"""Runs one blocking storage call for the items of many concurrent pushes.

The first caller's items go at once, in a worker thread; callers arriving while that call runs
wait, and their items go together in the next call. An idle gateway adds no delay; a busy one
makes few, large calls (one commit for many pushes) instead of one per push.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class Coalesced(Generic[ItemT, ResultT]):
    """`await coalesced(items)`: the result of `call` over these items and whoever's joined them.

    Every caller of one call gets its whole result (or its exception), so `call` must answer
    for each of its items in a way each caller can pick its own out of.
    """

    def __init__(self, call: Callable[[list[ItemT]], ResultT]) -> None:
        self._call = call
        self._waiting: list[tuple[Sequence[ItemT], asyncio.Future[ResultT]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def __call__(self, items: Sequence[ItemT]) -> ResultT:
        future: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        self._waiting.append((items, future))
        if self._runner is None:
            self._runner = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                items = [item for part, _ in batch for item in part]
                try:
                    result = await asyncio.to_thread(self._call, items)
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for _, future in batch:
                        if not future.done():
                            future.set_result(result)
        finally:
            self._runner = None
