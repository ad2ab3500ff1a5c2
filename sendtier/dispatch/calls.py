"""Calls one supplier within its limits, folding concurrent submits into multi-recipient calls.

Every message's attempt asks its supplier's SupplierCaller for one submit. When the adapter
takes batches (SUPPLIERS.md: Tencent `PhoneNumberSet`, CMPP-style `mobile` lists, Alibaba
`SendBatchSms`), requests with the same batch key that arrive while the caller waits for the
next free call slot join one open group, sent as one call: one TPS token, one connection, one
answer with a result per recipient. Nothing lingers on a timer: an idle supplier gets each
request after one turn of the event loop, and groups grow only as the supplier's concurrency
fills up, which is when batching pays.

A whole call refused with a code that is about one recipient (a bad number, a per-number
frequency limit: Alibaba answers a batch with one code) was sent to nobody, so its requests are
sent again one by one: every message gets the answer for its own recipient (§7.2 stays exact).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

from sendtier.dispatch.limits import SupplierGates
from sendtier.dispatch.metrics import DispatchMetrics
from smsplatform.clock import Clock
from suppliers.base import (
    BatchSubmitAdapter,
    SubmitErrorClass,
    SubmitOutcome,
    SubmitRequest,
    SupplierAdapter,
)

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
_T = TypeVar("_T")

# Classes of a refusal that speaks for one recipient, not for the call or the account.
RECIPIENT_CLASSES: Final = frozenset({SubmitErrorClass.PERMANENT, SubmitErrorClass.RECIPIENT_LIMIT})


def error_class(outcome: SubmitOutcome) -> SubmitErrorClass | None:
    """None for an accepted submit, else how to treat the failure."""
    if outcome.accepted:
        return None
    # An adapter that refuses without saying why is taken at its word: never a resend.
    return outcome.error_class or SubmitErrorClass.PERMANENT


@dataclass(frozen=True, slots=True)
class Answered:
    """One request's outcome, and how long its supplier is skipped after this answer."""

    outcome: SubmitOutcome
    skipped_s: float | None = None


@dataclass(slots=True)
class _Group:
    """Requests of one batch key waiting for a call, and the futures their senders wait on."""

    requests: list[SubmitRequest] = field(default_factory=list)
    waiters: list[asyncio.Future[Answered]] = field(default_factory=list)
    phones: set[str] = field(default_factory=set)


class SupplierCaller:
    """Submits to one supplier: its concurrency slots, its TPS bucket, batches, and back-offs."""

    def __init__(
        self,
        name: str,
        adapter: SupplierAdapter,
        gates: SupplierGates,
        metrics: DispatchMetrics,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        self.name = name
        self._call_sizes = metrics.call_recipients.labels(name)
        self._adapter = adapter
        self._batching = adapter if isinstance(adapter, BatchSubmitAdapter) else None
        self._gates = gates
        self._limits = gates[name]
        self._clock = clock
        self._sleep = sleep
        self._groups: dict[Hashable, _Group] = {}
        self._flushes: set[asyncio.Task[None]] = set()

    async def submit(self, request: SubmitRequest) -> Answered:
        """Send one request, alone or in a call with others; returns its own answer."""
        key = self._batching.batch_key(request) if self._batching is not None else None
        if key is None:
            return await self._alone(request)
        group = self._groups.get(key)
        if group is not None and request.phone in group.phones:
            # One number twice in a call would get one result: the second goes on its own.
            return await self._alone(request)
        waiter: asyncio.Future[Answered] = asyncio.get_running_loop().create_future()
        if group is None:
            group = self._groups[key] = _Group()
            self._start_flush(key)
        group.requests.append(request)
        group.waiters.append(waiter)
        group.phones.add(request.phone)
        return await waiter

    async def close(self) -> None:
        """Cancel calls not yet answered (their messages were cancelled: the bus redelivers)."""
        for task in list(self._flushes):
            task.cancel()
        await asyncio.gather(*self._flushes, return_exceptions=True)

    # --- one request ------------------------------------------------------------------------------
    async def _alone(self, request: SubmitRequest) -> Answered:
        async with self._limits.slots:
            await self._take_token()
            self._call_sizes.observe(1)
            outcome = await self._guarded(self._adapter.submit(request), [request])
        return Answered(outcome, self._record(outcome))

    # --- a group ----------------------------------------------------------------------------------
    def _start_flush(self, key: Hashable) -> None:
        task = asyncio.create_task(self._flush(key), name=f"submit-batch-{self.name}")
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush(self, key: Hashable) -> None:
        group: _Group | None = None
        try:
            # One turn of the loop: the messages of the same bus fetch join before the call goes.
            await asyncio.sleep(0)
            async with self._limits.slots:
                group = self._take_group(key)
                await self._take_token()
                answers = await self._call(group.requests)
        except BaseException as exc:
            # This task alone owns the key's open group until it takes it.
            group = group or self._groups.pop(key)
            for waiter in group.waiters:
                if waiter.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    waiter.cancel()
                else:
                    waiter.set_exception(exc)
            if isinstance(exc, Exception):
                return  # its senders have it; the task itself ends quietly
            raise
        if answers is None:
            # Refused for one recipient's sake: nobody was sent to, so each goes on its own.
            answers = list(await asyncio.gather(*map(self._alone, group.requests)))
        for waiter, answered in zip(group.waiters, answers, strict=True):
            if not waiter.done():  # its message task may have been cancelled meanwhile
                waiter.set_result(answered)

    def _take_group(self, key: Hashable) -> _Group:
        """The key's open group, cut to one call's size; the rest stays open for the next."""
        assert self._batching is not None
        group = self._groups.pop(key)
        limit = self._batching.max_batch
        if len(group.requests) > limit:
            # The rest waits for the next free slot, and keeps taking newcomers meanwhile.
            rest = _Group(group.requests[limit:], group.waiters[limit:])
            rest.phones.update(request.phone for request in rest.requests)
            self._groups[key] = rest
            self._start_flush(key)
            del group.requests[limit:], group.waiters[limit:]
        return group

    async def _call(self, requests: list[SubmitRequest]) -> list[Answered] | None:
        """One call's answers in request order; None when it must be split into single calls."""
        assert self._batching is not None
        size = len(requests)
        self._call_sizes.observe(size)
        if size == 1:
            outcome = await self._guarded(self._adapter.submit(requests[0]), requests)
            return [Answered(outcome, self._record(outcome))]
        answer = await self._guarded(self._batching.submit_batch(requests), requests)
        if isinstance(answer, SubmitOutcome):
            if error_class(answer) in RECIPIENT_CLASSES:
                logger.info(
                    "event=batch_split supplier=%s recipients=%d code=%s",
                    self.name,
                    size,
                    answer.error_code,
                )
                return None
            # The call as a whole failed: one back-off for it, the same answer for everyone.
            skipped_s = self._record(answer)
            return [Answered(answer, skipped_s)] * size
        if len(answer) != size:
            raise RuntimeError(
                f"{self.name}: {len(answer)} outcomes for a call of {size} recipients"
            )
        return [Answered(outcome, self._record(outcome)) for outcome in answer]

    # --- shared -----------------------------------------------------------------------------------
    async def _take_token(self) -> None:
        wait = self._limits.bucket.reserve(self._clock.monotonic())
        if wait > 0:
            await self._sleep(wait)

    async def _guarded(
        self, call: Awaitable[_T], requests: Sequence[SubmitRequest]
    ) -> _T | SubmitOutcome:
        started = time.perf_counter()
        try:
            return await call
        except Exception as exc:
            # The protocol says adapters never raise; one that does is treated like a 5xx.
            logger.exception(
                "event=adapter_raised supplier=%s message_ids=%s",
                self.name,
                ",".join(request.message_id for request in requests),
            )
            return SubmitOutcome(
                accepted=False,
                latency_ms=(time.perf_counter() - started) * 1000,
                error_code="ADAPTER_ERROR",
                error_class=SubmitErrorClass.RETRIABLE,
                error_message=repr(exc),
            )

    def _record(self, outcome: SubmitOutcome) -> float | None:
        return self._gates.record(
            self.name, error_class(outcome), self._clock.monotonic(), outcome.retry_after_s
        )
