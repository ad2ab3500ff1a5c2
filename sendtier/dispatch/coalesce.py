"""Folds calls that many message tasks make one at a time into one batch call.

Calls that arrive while a batch call is running wait and go together in the next one, so an
idle store sees each call after one turn of the event loop and a busy one sees few large
calls: the same rhythm as the event publisher, without a linger timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")


@dataclass
class _Batch(Generic[Item, Answer]):
    items: list[Item] = field(default_factory=list)
    done: asyncio.Future[Sequence[Answer]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Coalescer(Generic[Item, Answer]):
    """`await coalescer(item)` answers one item; `run` answers a batch, one answer per item.

    A failed batch call fails every item in it. A caller that is cancelled leaves its batch
    running for the others.
    """

    def __init__(self, run: Callable[[list[Item]], Awaitable[Sequence[Answer]]]) -> None:
        self._run = run
        self._open: _Batch[Item, Answer] | None = None
        self._one_at_a_time = asyncio.Lock()
        self._calls: set[asyncio.Task[None]] = set()

    async def __call__(self, item: Item) -> Answer:
        batch = self._open
        if batch is None:
            batch = self._open = _Batch()
            call = asyncio.create_task(self._call(batch))
            self._calls.add(call)
            call.add_done_callback(self._calls.discard)
        index = len(batch.items)
        batch.items.append(item)
        answers = await asyncio.shield(batch.done)
        return answers[index]

    async def _call(self, batch: _Batch[Item, Answer]) -> None:
        async with self._one_at_a_time:
            if self._open is batch:
                self._open = None  # later items start the next batch
            try:
                answers = await self._run(batch.items)
                if len(answers) != len(batch.items):
                    raise RuntimeError(f"{len(answers)} answers for {len(batch.items)} items")
            except Exception as exc:
                batch.done.set_exception(exc)
                batch.done.exception()  # every waiter may have gone: not an unread error
            except BaseException:
                batch.done.cancel()
                raise
            else:
                batch.done.set_result(answers)
