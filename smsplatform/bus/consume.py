"""The one consume loop of every bus consumer: fetch, decode, handle, ack or nak, back off.

A loop never ends on an error. A fetch that fails is retried after a backoff (exponential, with
jitter, capped). A payload that cannot be decoded never will be: it is logged, counted and acked,
so it cannot block the durable. A batch whose handler raises is nak'ed (the bus delivers it again)
and the loop backs off before the next fetch. Every loop keeps a Liveness record that the
service's /healthz and /metrics read.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Generic, NoReturn, Protocol, TypeVar

from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from smsplatform.bus.base import Delivery, Subscription
from smsplatform.bus.liveness import Liveness, LivenessRegistry, Stage

log = logging.getLogger(__name__)

T = TypeVar("T")

# First retry after ~0.1 s, doubling to at most 5 s: a bus that is back is read again quickly,
# one that is down is not hammered.
BACKOFF_INITIAL_S: Final = 0.1
BACKOFF_MAX_S: Final = 5.0
BACKOFF_JITTER_S: Final = 0.1


@dataclass(frozen=True, slots=True)
class Batch(Generic[T]):
    """The readable deliveries of one fetch and what each payload decoded to, in the same order."""

    deliveries: list[Delivery]
    values: list[T]


class Credit(Protocol):
    """Flow control: room for deliveries the handler has not finished yet."""

    async def take(self, most: int) -> int:
        """Wait for room for at least one; take room for up to `most`; how many were taken."""
        ...

    def give_back(self, count: int) -> None:
        """Return room taken but not used (the fetch brought fewer deliveries)."""
        ...


def raw_payload(data: bytes) -> bytes:
    """The decoder of a handler that reads each payload itself (the dispatcher, per message)."""
    return data


class _Phase(enum.Enum):
    IDLE = "idle"
    CREDIT = "credit"  # waiting for room: safe to cancel, nothing is in hand
    FETCH = "fetch"  # bounded by the fetch timeout
    WORK = "work"  # decode, handle, settle: left to finish
    BACKOFF = "backoff"  # ended early by stop()


class _StageFailed(Exception):
    """A fetch or a batch failed; already logged and counted, the retry backs off."""


class Consumer(Generic[T]):
    """One durable subscription read by one loop: `start()` runs it until `stop()` or `drain()`.

    `decode` turns one payload into a value (raising for a payload it cannot read); `handle`
    gets every readable delivery of a fetch at once. After `handle` returns, the consumer acks
    the batch, unless `handler_settles`: then the handler acks (or holds) each delivery itself.
    With `credit`, each fetch asks for as many deliveries as the handler has room for; the room
    of the deliveries handed to `handle` is the handler's to give back.
    """

    def __init__(
        self,
        name: str,
        subscription: Subscription,
        decode: Callable[[bytes], T],
        handle: Callable[[Batch[T]], Awaitable[None]],
        *,
        liveness: LivenessRegistry,
        fetch_max: int,
        fetch_timeout_s: float,
        handler_settles: bool = False,
        credit: Credit | None = None,
    ) -> None:
        if fetch_max < 1:
            raise ValueError(f"fetch_max must be at least 1, got {fetch_max}")
        self.name = name
        self._subscription = subscription
        self._decode = decode
        self._handle = handle
        self._registry = liveness
        self._live: Liveness = liveness.track(name)
        self._fetch_max = fetch_max
        self._fetch_timeout_s = fetch_timeout_s
        self._handler_settles = handler_settles
        self._credit = credit
        self._phase = _Phase.IDLE
        self._stop_requested = False
        self._stopping = asyncio.Event()
        self._pending: Callable[[], Awaitable[int]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._retrying = AsyncRetrying(
            sleep=self._pause,
            wait=wait_exponential_jitter(
                multiplier=BACKOFF_INITIAL_S, max=BACKOFF_MAX_S, jitter=BACKOFF_JITTER_S
            ),
            retry=retry_if_exception_type(_StageFailed),
            reraise=True,
        )

    def start(self) -> None:
        """Run the loop in a task of its own."""
        if self._task is not None:
            raise RuntimeError(f"consumer {self.name} is already started")
        self._task = asyncio.create_task(self._run(), name=f"consume-{self.name}")

    async def catch_up(self, fetch_timeout_s: float) -> None:
        """Before `start()`: handle what the bus holds now, until a fetch comes back empty."""
        while not self._stop_requested:
            if await self._retried_cycle(fetch_timeout_s) == 0:
                return

    async def stop(self) -> None:
        """End the loop after the batch in hand; a wait for room or for a retry ends at once."""
        self._stop_requested = True
        self._stopping.set()
        task = self._task
        if task is None:
            self._registry.forget(self._live)
            await self._subscription.close()
            return
        if self._phase is _Phase.CREDIT:
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def drain(self, pending: Callable[[], Awaitable[int]]) -> None:
        """End the loop once a fetch comes back empty and `pending()` is 0: nothing un-acked.

        A failure while draining ends it too: what is left stays on the bus for the next start.
        """
        self._pending = pending
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        try:
            while not self._stop_requested:
                await self._retried_cycle(self._fetch_timeout_s)
        finally:
            if self._stop_requested:
                self._registry.forget(self._live)
            else:
                self._live.stopped = True
                log.error("event=consumer_stopped consumer=%s", self.name)
            with contextlib.suppress(Exception):
                await self._subscription.close()

    async def _retried_cycle(self, fetch_timeout_s: float) -> int:
        fetched = 0
        async for attempt in self._retrying:
            with attempt:
                fetched = await self._cycle(fetch_timeout_s)
        return fetched

    async def _cycle(self, fetch_timeout_s: float) -> int:
        """One fetch and its batch; how many deliveries the fetch brought."""
        if self._stop_requested:
            return 0
        room = await self._take_credit()
        self._phase = _Phase.FETCH
        try:
            deliveries = await self._subscription.fetch(room, fetch_timeout_s)
        except Exception as exc:
            self._give_back(room)
            self._fail("fetch", exc)
        self._phase = _Phase.WORK
        batch = await self._decoded(deliveries)
        self._give_back(room - len(batch.deliveries))
        if batch.deliveries:
            await self._settle(batch)
        elif not deliveries and self._pending is not None:
            await self._check_drained()
        self._live.progressed()
        self._phase = _Phase.IDLE
        return len(deliveries)

    async def _take_credit(self) -> int:
        if self._credit is None:
            return self._fetch_max
        self._phase = _Phase.CREDIT
        self._live.waiting_for_credit = True
        try:
            room = await self._credit.take(self._fetch_max)
        finally:
            self._live.waiting_for_credit = False
        self._live.progressed()
        return room

    def _give_back(self, count: int) -> None:
        if self._credit is not None and count > 0:
            self._credit.give_back(count)

    async def _decoded(self, deliveries: list[Delivery]) -> Batch[T]:
        readable: list[Delivery] = []
        values: list[T] = []
        decode = self._decode
        for delivery in deliveries:
            try:
                values.append(decode(delivery.data))
            except Exception as exc:
                # Unreadable now is unreadable on every redelivery: drop it, loudly.
                self._live.poison_messages += 1
                log.error(
                    "event=consumer_poison_message consumer=%s subject=%s attempt=%d bytes=%d "
                    "error=%r",
                    self.name,
                    delivery.subject,
                    delivery.attempt,
                    len(delivery.data),
                    exc,
                )
                await delivery.ack()
            else:
                readable.append(delivery)
        return Batch(readable, values)

    async def _settle(self, batch: Batch[T]) -> None:
        try:
            await self._handle(batch)
            if not self._handler_settles:
                await asyncio.gather(*(delivery.ack() for delivery in batch.deliveries))
        except Exception as exc:
            # Acks and naks of settled deliveries are no-ops: only the unsettled go back.
            await asyncio.gather(
                *(delivery.nak() for delivery in batch.deliveries), return_exceptions=True
            )
            self._fail("handle", exc)

    async def _check_drained(self) -> None:
        assert self._pending is not None
        try:
            left = await self._pending()
        except Exception as exc:
            self._fail("fetch", exc)
        if left == 0:
            self._stop_requested = True
        else:
            log.info("event=consumer_draining consumer=%s pending=%d", self.name, left)

    def _fail(self, stage: Stage, exc: Exception) -> NoReturn:
        self._live.failed(stage, exc)
        if self._pending is not None:
            log.error(
                "event=consumer_drain_abandoned consumer=%s stage=%s error=%r",
                self.name,
                stage,
                exc,
            )
            self._stop_requested = True
            raise _StageFailed from exc
        if stage == "fetch":
            log.warning("event=consumer_fetch_failed consumer=%s error=%r", self.name, exc)
        else:
            log.error("event=consumer_batch_failed consumer=%s", self.name, exc_info=exc)
        raise _StageFailed from exc

    async def _pause(self, seconds: float) -> None:
        """The backoff between retries; a stop ends it at once."""
        self._phase = _Phase.BACKOFF
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
