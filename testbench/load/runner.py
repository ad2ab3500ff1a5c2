"""The load run: an open-loop scheduler and the senders that put its requests to the API."""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
import orjson

from smsplatform.contracts import MessageClass
from smsplatform.http.wire import HttpConnection
from suppliers.transport import IDLE_EXPIRY_S
from testbench.load.report import LoadReport, Tally
from testbench.load.traffic import DEFAULT_MIX, TemplateChoice, Traffic

log = logging.getLogger(__name__)

# The scheduler wakes at least this often; each wake sends every message due by then.
MIN_SLEEP_S: Final = 0.001


@dataclass(frozen=True, slots=True)
class _Request:
    path: str
    content: bytes
    messages: int
    due_at: float  # loop time the request should have gone out: latency counts from here


async def run_load(
    api_url: str,
    token: str,
    rate: float,
    duration: float,
    mix: Mapping[MessageClass, float] = DEFAULT_MIX,
    *,
    batch_size: int = 1,
    batch_linger_s: float = 0.05,
    max_in_flight: int = 512,
    connections: int = 8,
    timeout_s: float = 5.0,
    seed: int | None = None,
    progress_every_s: float | None = None,
) -> LoadReport:
    """Send round(rate × duration) messages at `rate` messages/s, open loop, and report.

    Open loop: messages go out when they are due, whether or not earlier ones were answered,
    so a slow API shows up as latency (measured from when each request was due), not as a
    lower offered rate. OTP goes one message per request; notification and marketing messages
    go in batches of up to `batch_size`, each sent when full or `batch_linger_s` after its first
    recipient was due. Templates and their parameters are discovered from GET /v1/templates.
    `connections` senders each keep one HTTP connection of their own.
    """
    if rate <= 0 or duration <= 0:
        raise ValueError("rate and duration must be positive")
    shares = {name: share for name, share in mix.items() if share > 0}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    base_url = httpx.URL(api_url.rstrip("/"))
    tls = httpx.create_ssl_context() if base_url.scheme == "https" else None
    # httpx builds the requests; each sender sends on a lean kept-alive connection of its own,
    # since httpx's send path costs more CPU per request than the API spends on a small one.
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=timeout_s, verify=tls or True
    ) as client:
        templates = await _discover_templates(client, shares)
        traffic = Traffic(templates, seed)
        run = _Run(traffic, shares, batch_size, batch_linger_s, max_in_flight)
        senders = [
            _Sender(client, HttpConnection(base_url, tls, IDLE_EXPIRY_S), httpx.Timeout(timeout_s))
            for _ in range(max(1, connections))
        ]
        try:
            return await run.drive(rate, duration, progress_every_s, senders)
        finally:
            for sender in senders:
                await sender.connection.aclose()


@dataclass(frozen=True)
class _Sender:
    """One sender's connection, and the client that builds its requests."""

    builder: httpx.AsyncClient
    connection: HttpConnection
    timeout: httpx.Timeout

    async def post(self, path: str, content: bytes) -> httpx.Response:
        request = self.builder.build_request("POST", path, content=content)
        return await self.connection.send(request, self.timeout)


async def _discover_templates(
    client: httpx.AsyncClient, shares: Mapping[MessageClass, float]
) -> dict[MessageClass, list[TemplateChoice]]:
    answer = await client.get("/v1/templates")
    answer.raise_for_status()
    by_class: dict[MessageClass, list[TemplateChoice]] = {name: [] for name in shares}
    for item in answer.json()["templates"]:
        if item["message_class"] in by_class:
            by_class[item["message_class"]].append(
                TemplateChoice(item["id"], tuple(item["params"]))
            )
    missing = [name for name, found in by_class.items() if not found]
    if missing:
        raise ValueError(f"the tenant has no template for {', '.join(missing)} messages")
    return by_class


class _Run:
    """One run: the scheduler and the requests it has in flight."""

    def __init__(
        self,
        traffic: Traffic,
        shares: Mapping[MessageClass, float],
        batch_size: int,
        batch_linger_s: float,
        max_in_flight: int,
    ) -> None:
        self._traffic = traffic
        cumulative, upto = [], 0.0
        for name, share in shares.items():
            upto += share
            cumulative.append((name, upto))
        self._mix: list[tuple[MessageClass, float]] = cumulative
        self._batch_size = max(1, batch_size)
        self._batch_linger_s = batch_linger_s
        # Notification and marketing recipients waiting for a batch, by template (a batch has
        # one): (when the first was due, recipients).
        self._batches: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        # Requests due and not yet answered wait here for one of the senders (one per
        # connection): httpx's own pool queue costs time per waiting request on every send.
        self._queue: asyncio.Queue[_Request] = asyncio.Queue(max_in_flight)
        self._tally = Tally()
        self._offered_by_class: Counter[str] = Counter()
        self._offered_by_carrier: Counter[str] = Counter()
        self._skipped = 0

    async def drive(
        self,
        rate: float,
        duration: float,
        progress_every_s: float | None,
        senders: list[_Sender],
    ) -> LoadReport:
        tasks = [asyncio.create_task(self._sender(sender)) for sender in senders]
        try:
            return await self._schedule(rate, duration, progress_every_s)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _schedule(
        self, rate: float, duration: float, progress_every_s: float | None
    ) -> LoadReport:
        loop = asyncio.get_running_loop()
        total = max(1, round(rate * duration))
        started = loop.time()
        next_progress = started + progress_every_s if progress_every_s else None
        scheduled = 0
        while scheduled < total:
            now = loop.time()
            # The message numbered k is due at k / rate; the first one at once.
            due = min(total, int((now - started) * rate) + 1)
            if due > scheduled:
                self._dispatch(due - scheduled, now)
                scheduled = due
            self._flush_batches(now, now - self._batch_linger_s)
            if next_progress is not None and now >= next_progress:
                log.info("load.progress %s", self._report(now - started).summary())
                next_progress = now + (progress_every_s or 0.0)
            wake_at = started + scheduled / rate
            if self._batches:
                wake_at = min(wake_at, self._oldest_batch() + self._batch_linger_s)
            await asyncio.sleep(max(wake_at - loop.time(), MIN_SLEEP_S))
        self._flush_batches(loop.time(), math.inf)
        await self._queue.join()
        return self._report(loop.time() - started)

    def _dispatch(self, count: int, due_at: float) -> None:
        traffic = self._traffic
        for _ in range(count):
            message_class = traffic.pick_class(self._mix)
            template = traffic.template(message_class)
            phone, carrier = traffic.recipient()
            self._offered_by_class[message_class] += 1
            self._offered_by_carrier[carrier] += 1
            params = traffic.params(template)
            if message_class == "otp" or self._batch_size == 1:
                body = {"phone": phone, "template_id": template.id, "params": params}
                self._start("/v1/messages", body, 1, due_at)
                continue
            _, recipients = self._batches.setdefault(template.id, (due_at, []))
            if message_class == "marketing" and recipients:
                # A campaign: every recipient of a marketing batch reads the same text.
                params = recipients[0]["params"]
            recipients.append({"phone": phone, "params": params})
            if len(recipients) == self._batch_size:
                del self._batches[template.id]
                self._start_batch(template.id, recipients, due_at)

    def _flush_batches(self, now: float, first_due_before: float) -> None:
        """Send the batches whose first recipient was due before `first_due_before`."""
        for template_id, (first_due, recipients) in list(self._batches.items()):
            if first_due <= first_due_before:
                del self._batches[template_id]
                self._start_batch(template_id, recipients, now)

    def _oldest_batch(self) -> float:
        return min(first_due for first_due, _ in self._batches.values())

    def _start_batch(
        self, template_id: str, recipients: list[dict[str, Any]], due_at: float
    ) -> None:
        # A batch is due when it is full or has lingered long enough: latency is the API's from
        # then on, not the time spent filling it (a client's choice).
        body = {"template_id": template_id, "recipients": recipients}
        self._start("/v1/messages/batch", body, len(recipients), due_at)

    def _start(self, path: str, body: dict[str, Any], messages: int, due_at: float) -> None:
        try:
            self._queue.put_nowait(_Request(path, orjson.dumps(body), messages, due_at))
        except asyncio.QueueFull:
            self._skipped += messages

    async def _sender(self, sender: _Sender) -> None:
        queue = self._queue
        while True:
            request = await queue.get()
            try:
                await self._send(sender, request)
            finally:
                queue.task_done()

    async def _send(self, sender: _Sender, request: _Request) -> None:
        try:
            answer = await sender.post(request.path, request.content)
        except httpx.HTTPError as exc:
            self._tally.failed(request.messages)
            log.debug("load.request_failed path=%s error=%s", request.path, type(exc).__name__)
            return
        latency = asyncio.get_running_loop().time() - request.due_at
        self._tally.answered(request.messages, answer.status_code, answer.content, latency)

    def _report(self, elapsed: float) -> LoadReport:
        tally = self._tally
        sketch = tally.latency_ms
        has_latency = sketch.count > 0
        return LoadReport(
            duration_s=elapsed,
            requests=tally.requests,
            sent=sum(self._offered_by_class.values()) - self._skipped,
            accepted=tally.accepted,
            rate_limited=tally.rate_limited,
            refused=tally.refused,
            errors=tally.errors,
            skipped=self._skipped,
            latency_p50_ms=(sketch.get_quantile_value(0.5) or 0.0) if has_latency else 0.0,
            latency_p99_ms=(sketch.get_quantile_value(0.99) or 0.0) if has_latency else 0.0,
            latency_max_ms=(sketch.get_quantile_value(1.0) or 0.0) if has_latency else 0.0,
            offered_by_class=dict(self._offered_by_class),
            offered_by_carrier=dict(self._offered_by_carrier),
        )
