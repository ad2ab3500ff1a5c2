"""Builders for dispatch tests: a scripted supplier, settings, messages, and bus readers."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from sendtier.dispatch import Dispatcher
from sendtier.settings import SendTierSettings
from sendtier.storage import SENDTIER_HISTORY, Database
from smsplatform.bus import SUBMIT, SUBMITTED, SUPPLIER_LOGS, Bus
from smsplatform.clock import Clock, ManualClock
from smsplatform.contracts import (
    MessageClass,
    OutboundMessage,
    SubmitResult,
    SupplierLog,
    decode_batch,
)
from suppliers.base import Balance, SubmitErrorClass, SubmitOutcome, SubmitRequest

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
CALLBACK_BASE = "http://receipts.test:8083"


def accepted(supplier_message_id: str = "sid-1") -> SubmitOutcome:
    return SubmitOutcome(accepted=True, latency_ms=12.0, supplier_message_id=supplier_message_id)


def failed(
    error_class: SubmitErrorClass, code: str = "E", retry_after_s: float | None = None
) -> SubmitOutcome:
    return SubmitOutcome(
        accepted=False,
        latency_ms=30.0,
        error_code=code,
        error_class=error_class,
        error_message=f"scripted {code}",
        retry_after_s=retry_after_s,
    )


@dataclass
class Call:
    request: SubmitRequest
    at: float  # clock.monotonic() when the submit reached the supplier


@dataclass
class ScriptedSupplier:
    """A stand-in for an outside supplier API: answers from a script, records every submit.

    `script` gives the answer for each submit (by default: accept). `gate`, when set, holds every
    submit until the test opens it.
    """

    name: str
    clock: Clock
    script: Callable[[SubmitRequest], SubmitOutcome] = field(default=lambda _: accepted())
    gate: asyncio.Event | None = None
    calls: list[Call] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    dialect: str = "cmpp"

    async def submit(self, request: SubmitRequest) -> SubmitOutcome:
        self.calls.append(Call(request, self.clock.monotonic()))
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        return self.script(request)

    async def balance(self) -> Balance | None:
        return None

    async def aclose(self) -> None:
        return None

    @property
    def message_ids(self) -> list[str]:
        return [call.request.message_id for call in self.calls]


def answers(*outcomes: SubmitOutcome) -> Callable[[SubmitRequest], SubmitOutcome]:
    """A script answering the given outcomes in turn, then accepting."""
    queue = list(outcomes)
    return lambda _: queue.pop(0) if queue else accepted()


def settings_for(
    routes: Sequence[dict[str, Any]],
    suppliers: Mapping[str, dict[str, Any]],
    **dispatch: Any,
) -> SendTierSettings:
    """Send-tier settings with the given default routes and supplier knobs (tps, templates...)."""
    return SendTierSettings.model_validate(
        {
            "dispatch": {"default_routes": list(routes), "ack_wait_s": 30.0, **dispatch},
            "receipts": {"public_url": CALLBACK_BASE},
            "suppliers": [
                {
                    "name": name,
                    "account": {"dialect": "cmpp", "account": name, "secret": "s3cret"},
                    "base_url": "http://127.0.0.1:9",
                    **knobs,
                }
                for name, knobs in suppliers.items()
            ],
        }
    )


def route(carrier: str, message_class: str, weights: Mapping[str, float]) -> dict[str, Any]:
    return {"carrier": carrier, "message_class": message_class, "suppliers": dict(weights)}


def message(n: int, message_class: MessageClass = "otp", **overrides: Any) -> OutboundMessage:
    fields: dict[str, Any] = {
        "message_id": f"msg-{n:05d}",
        "tenant": "acme",
        "phone": f"+86138{n:08d}",
        "carrier": "cmcc",
        "message_class": message_class,
        "sign_name": "阿里云",
        "template_id": "verify",
        "template_params": {"code": "123456"},
        "content": "【阿里云】您的验证码是123456。",
        "segments": 1,
        "accepted_at": T0,
    }
    fields.update(overrides)
    return OutboundMessage(**fields)


async def publish_messages(bus: Bus, messages: Sequence[OutboundMessage]) -> None:
    await bus.publish_many(SUBMIT, [msgspec.msgpack.encode(m) for m in messages])


class EventReader:
    """Reads what the dispatcher published, through its own durables on the bus."""

    def __init__(self, bus: Bus, durable: str = "test-reader") -> None:
        self._bus = bus
        self._durable = durable
        self.results: list[SubmitResult] = []
        self.logs: list[SupplierLog] = []

    async def collect(self, results: int, logs: int = 0, timeout: float = 3.0) -> None:
        """Wait until at least this many results and logs have arrived."""
        submitted = await self._bus.subscribe(SUBMITTED, self._durable)
        supplier_logs = await self._bus.subscribe(SUPPLIER_LOGS, self._durable)
        try:
            async with asyncio.timeout(timeout):
                while len(self.results) < results or len(self.logs) < logs:
                    for delivery in await submitted.fetch(100, timeout=0.05):
                        self.results.extend(decode_batch(SubmitResult, delivery.data))
                        await delivery.ack()
                    for delivery in await supplier_logs.fetch(100, timeout=0.01):
                        self.logs.extend(decode_batch(SupplierLog, delivery.data))
                        await delivery.ack()
        finally:
            await submitted.close()
            await supplier_logs.close()

    def for_message(self, message_id: str) -> list[SubmitResult]:
        return sorted(
            (r for r in self.results if r.message_id == message_id), key=lambda r: r.attempt
        )


async def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def settled(bus: Bus, timeout: float = 3.0) -> None:
    """Wait until the dispatcher has acked everything on `sms.submit`."""
    async with asyncio.timeout(timeout):
        while await bus.pending(SUBMIT, "dispatch"):
            await asyncio.sleep(0.005)


class ClockSleeper:
    """A sleep that moves a ManualClock instead of waiting: time passes only as tasks sleep."""

    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock

    async def __call__(self, seconds: float) -> None:
        target = self._clock.monotonic() + seconds
        await asyncio.sleep(0)  # let other sleepers register first
        behind = target - self._clock.monotonic()
        if behind > 0:
            self._clock.advance(behind)


@contextmanager
def dispatch_database() -> Iterator[Database]:
    """A migrated SQLite database of its own, for the dispatcher's submitted markers."""
    with tempfile.TemporaryDirectory(prefix="dispatch-") as directory:
        database = Database(f"sqlite:///{directory}/dispatch.db")
        database.upgrade(SENDTIER_HISTORY)
        try:
            yield database
        finally:
            database.dispose()


@asynccontextmanager
async def running(
    settings: SendTierSettings,
    bus: Bus,
    suppliers: Sequence[ScriptedSupplier],
    *,
    database: Database | None = None,
    **options: Any,
) -> AsyncIterator[Dispatcher]:
    """A started dispatcher; on `database`, else on a database of its own."""
    with dispatch_database() as own_database:
        adapters = {s.name: s for s in suppliers}
        dispatcher = Dispatcher(
            settings, bus, adapters, database=database or own_database, **options
        )
        await dispatcher.start()
        try:
            yield dispatcher
        finally:
            await dispatcher.stop(grace_s=1.0)
