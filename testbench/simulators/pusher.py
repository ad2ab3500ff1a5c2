"""Pushes due receipts to their callback URLs over kept-alive connections, re-pushing on the
dialect's schedule."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import httpx

from smsplatform.http.wire import HttpConnection
from suppliers.transport import IDLE_EXPIRY_S
from testbench.simulators.engine import SimulatorEngine
from testbench.simulators.records import ReceiptEvent

log = logging.getLogger("sendtier.sim.push")


@dataclass(frozen=True, slots=True)
class OutgoingPush:
    """One HTTP POST carrying one or more reports."""

    url: str
    headers: dict[str, str]
    body: bytes


class PushFormat(Protocol):
    """How a dialect writes a push and reads the receiver's answer."""

    def render(self, events: Sequence[ReceiptEvent], url: str) -> OutgoingPush: ...

    def accepted(self, status: int, body: bytes) -> bool:
        """Whether the receiver took the push (otherwise it is re-pushed later)."""
        ...


class ReceiptPusher:
    """Delivers the engine's due receipts: from a background loop, or at once on `flush`.

    One delivery round runs at a time, so a flush returns only once every receipt due when it
    started has been pushed (or has failed and been rescheduled).
    """

    def __init__(self, engine: SimulatorEngine, push_format: PushFormat, concurrency: int = 16):
        self._engine = engine
        self._format = push_format
        self._lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(concurrency)
        # Idle connections by receiver origin (scheme, host, port): pushes reuse them.
        self._idle: dict[tuple[str, str, int | None], list[HttpConnection]] = {}
        self._tls: ssl.SSLContext | None = None

    async def deliver_due(self, *, force: bool) -> int:
        """Push due receipts; without `force`, a partial batch waits out the flush interval."""
        async with self._lock:
            engine = self._engine
            now = engine.clock.now()
            batching = engine.plan.receipts.batching
            batch_size = engine.profile.max_per_push or batching.max_per_push
            if not force:
                oldest = engine.receipts.oldest_due(now)
                if oldest is None:
                    return 0
                waited = (now - oldest).total_seconds() * 1000.0
                if (
                    waited < batching.flush_interval_ms
                    and engine.receipts.count_due(now, batch_size) < batch_size
                ):
                    return 0
            events = engine.receipts.take_pushable(now)
            by_url: dict[str, list[ReceiptEvent]] = {}
            for event in events:
                assert event.url is not None  # take_pushable only yields events with a URL
                by_url.setdefault(event.url, []).append(event)
            batches = [
                (url, group[start : start + batch_size])
                for url, group in by_url.items()
                for start in range(0, len(group), batch_size)
            ]
            delivered = await asyncio.gather(*(self._push(url, batch) for url, batch in batches))
            return sum(delivered)

    async def run(self, poll_s: float) -> None:
        """Deliver due receipts every `poll_s` seconds until cancelled."""
        while True:
            try:
                await self.deliver_due(force=False)
            except Exception:
                log.exception(
                    "sim receipt delivery round failed dialect=%s", self._engine.profile.name
                )
            await asyncio.sleep(poll_s)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                await connection.aclose()

    async def _push(self, url: str, batch: list[ReceiptEvent]) -> int:
        push = self._format.render(batch, url)
        timeout = httpx.Timeout(self._engine.plan.receipts.push_timeout_ms / 1000.0)
        async with self._slots:
            try:
                request = httpx.Request("POST", push.url, content=push.body, headers=push.headers)
                connections = self._idle.setdefault(
                    (request.url.scheme, request.url.host, request.url.port), []
                )
                connection = connections.pop() if connections else self._connect(request.url)
                try:
                    response = await connection.send(request, timeout)
                finally:
                    connections.append(connection)  # a broken one reconnects on its next use
                ok, why = self._format.accepted(response.status_code, response.content), None
                if not ok:
                    why = f"status {response.status_code}"
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                ok, why = False, type(exc).__name__
        counters = self._engine.counters
        if ok:
            counters.receipts_pushed += len(batch)
            return len(batch)
        counters.push_failures += 1
        self._reschedule(batch, url, why or "refused")
        return 0

    def _connect(self, url: httpx.URL) -> HttpConnection:
        if url.scheme == "https" and self._tls is None:
            self._tls = httpx.create_ssl_context(trust_env=False)
        return HttpConnection(url, self._tls, IDLE_EXPIRY_S)

    def _reschedule(self, batch: list[ReceiptEvent], url: str, why: str) -> None:
        engine = self._engine
        retry = engine.plan.receipts.retry
        delays = (
            tuple(retry.schedule_s)
            if retry.schedule_s is not None
            else engine.profile.retry_schedule_s
        )
        now = engine.clock.now()
        for event in batch:
            if not retry.enabled or event.attempt >= len(delays):
                engine.counters.receipts_dropped += 1
                log.warning(
                    "sim receipt dropped dialect=%s url=%s message_id=%s attempts=%d why=%s",
                    engine.profile.name,
                    url,
                    event.submission.message_id,
                    event.attempt + 1,
                    why,
                )
                continue
            event.due_at = now + timedelta(seconds=delays[event.attempt])
            event.attempt += 1
            engine.receipts.schedule(event)
        log.info(
            "sim receipt push failed dialect=%s url=%s reports=%d why=%s",
            engine.profile.name,
            url,
            len(batch),
            why,
        )
