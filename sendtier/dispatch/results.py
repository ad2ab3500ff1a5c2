"""Publishes dispatch's events (SubmitResults, SupplierLogs) in batches, one flush at a time.

Every in-flight message adds its events and gets a future that completes once the bus holds
them; the message is acked only after that. Events that arrive while a flush is on the wire go
out together in the next one, so the bus sees few large publishes under load and one small
publish per event when idle, without a linger timer.

Each chunk is published under a digest of its bytes as its message id, and a chunk the bus did
not confirm is published again (the same bytes, the same id) a few times before the flush
fails: a chunk whose answer was lost, but which the bus holds, stays one message.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from smsplatform.bus import SUBMITTED, SUPPLIER_LOGS, Bus, PublishFailed
from smsplatform.contracts import EventT, SubmitResult, SupplierLog, encode_batch

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# Events per bus message: the persist consumer decodes one msgpack array per message.
CHUNK_EVENTS = 500
# Pauses before publishing unconfirmed chunks again; then the flush fails (its messages are
# redelivered later, and find their submitted markers).
RETRY_DELAYS_S = (0.2, 1.0)


@dataclass
class _Pending:
    """Events waiting for the next flush, and the future their producers wait on."""

    results: list[SubmitResult] = field(default_factory=list)
    logs: list[SupplierLog] = field(default_factory=list)
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class EventPublisher:
    """Batches SubmitResults onto `sms.submitted` and SupplierLogs onto `sms.supplier_logs`."""

    def __init__(self, bus: Bus, sleep: Sleep = asyncio.sleep) -> None:
        self._bus = bus
        self._sleep = sleep
        self._pending: _Pending | None = None
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="dispatch-event-publisher")

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Publish what is waiting (for up to `timeout_s`: the bus may be gone), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wakeup.set()
        try:
            await asyncio.wait_for(task, timeout_s)
        except TimeoutError:
            # Their messages were not acked, so the bus delivers them again: nothing is lost.
            logger.error("event=dispatch_publish_abandoned timeout_s=%.1f", timeout_s)

    def submit_result(self, result: SubmitResult) -> asyncio.Future[None]:
        pending = self._next()
        pending.results.append(result)
        return pending.done

    def supplier_log(self, entry: SupplierLog) -> asyncio.Future[None]:
        pending = self._next()
        pending.logs.append(entry)
        return pending.done

    def _next(self) -> _Pending:
        if self._task is None:
            raise RuntimeError("EventPublisher is not started")
        if self._pending is None:
            self._pending = _Pending()
            self._wakeup.set()
        return self._pending

    async def _run(self) -> None:
        while not (self._stopping and self._pending is None):
            await self._wakeup.wait()
            self._wakeup.clear()
            await self._flush()

    async def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            await self._publish(SUBMITTED, pending.results)
            await self._publish(SUPPLIER_LOGS, pending.logs)
        except asyncio.CancelledError:
            pending.done.cancel()
            raise
        except Exception as exc:
            # The messages behind these events stay un-acked, so the bus redelivers them.
            logger.error(
                "event=dispatch_publish_failed results=%d logs=%d error=%r",
                len(pending.results),
                len(pending.logs),
                exc,
            )
            pending.done.set_exception(exc)
            # Nobody may be waiting any more (a cancelled message task): do not warn about it.
            pending.done.exception()
        else:
            pending.done.set_result(None)

    async def _publish(self, subject: str, events: list[EventT]) -> None:
        if not events:
            return
        payloads = [
            encode_batch(events[start : start + CHUNK_EVENTS])
            for start in range(0, len(events), CHUNK_EVENTS)
        ]
        ids = [f"{subject}:{hashlib.blake2b(p, digest_size=16).hexdigest()}" for p in payloads]
        for delay in (*RETRY_DELAYS_S, None):
            try:
                if len(payloads) == 1:
                    await self._bus.publish(subject, payloads[0], msg_id=ids[0])
                else:
                    await self._bus.publish_many(subject, payloads, msg_ids=ids)
                return
            except PublishFailed as failed:
                if delay is None:
                    raise
                payloads = [payloads[index] for index in failed.unconfirmed]
                ids = [ids[index] for index in failed.unconfirmed]
                logger.warning(
                    "event=dispatch_publish_retry subject=%s chunks=%d delay_s=%.1f",
                    subject,
                    len(payloads),
                    delay,
                )
            await self._sleep(delay)
