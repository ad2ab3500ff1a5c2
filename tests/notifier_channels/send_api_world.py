"""The real send API in-process (memory bus, SQLite), and a network to it that can fail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

import httpx
import msgspec
from fastapi import FastAPI

from sendtier.api import create_api_app
from sendtier.settings import SendTierSettings
from sendtier.storage import SENDTIER_HISTORY, Database
from smsplatform.bus import SUBMIT, MemoryBus, Subscription
from smsplatform.clock import ManualClock
from smsplatform.contracts import OutboundMessage

ALERTS_TOKEN = "alerts-token-0123456789abcdef"
API_URL = "http://api"

# What the network does to one request: refuse the connection (it never arrives), lose the
# answer (it arrives and is answered, the answer never comes back), a proxy that forwards it and
# answers 504 itself, or nothing.
Fault = Literal["refuse", "lose", "gateway_timeout"] | None


def alert_settings(database_url: str) -> SendTierSettings:
    return SendTierSettings.model_validate(
        {
            "database": {"url": database_url},
            "suppliers": [
                {
                    "name": "aliyun",
                    "account": {
                        "dialect": "aliyun",
                        "access_key_id": "i",
                        "access_key_secret": "s",
                    },
                    "base_url": "http://127.0.0.1:1",
                }
            ],
            "tenants": [{"name": "alerts", "token": ALERTS_TOKEN, "signatures": ["监控"]}],
            "templates": [
                {"id": "alert", "message_class": "notification", "text": "[{severity}] {summary}"}
            ],
        }
    )


@dataclass
class FaultyNetwork(httpx.AsyncBaseTransport):
    """Carries requests to the app, failing the next ones as `faults` says."""

    app: FastAPI
    faults: list[Fault] = field(default_factory=list)
    arrived: int = 0  # requests the API got
    keys: list[str | None] = field(default_factory=list)  # each request's Idempotency-Key

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        fault = self.faults.pop(0) if self.faults else None
        self.keys.append(request.headers.get("Idempotency-Key"))
        if fault == "refuse":
            raise httpx.ConnectError("connection refused", request=request)
        response = await httpx.ASGITransport(app=self.app).handle_async_request(request)
        await response.aread()
        self.arrived += 1
        if fault == "lose":
            raise httpx.ReadTimeout("read timed out", request=request)
        if fault == "gateway_timeout":
            return httpx.Response(504, content=b"upstream timed out", request=request)
        return response


@dataclass
class SendApiWorld:
    app: FastAPI
    bus: MemoryBus
    submitted: Subscription

    def client(self, *faults: Fault) -> tuple[httpx.AsyncClient, FaultyNetwork]:
        network = FaultyNetwork(self.app, list(faults))
        return httpx.AsyncClient(transport=network, base_url=API_URL), network

    async def published(self) -> list[OutboundMessage]:
        """Messages put on sms.submit since the last call."""
        deliveries = await self.submitted.fetch(1000, timeout=0.05)
        for delivery in deliveries:
            await delivery.ack()
        return [msgspec.msgpack.decode(d.data, type=OutboundMessage) for d in deliveries]


@asynccontextmanager
async def send_api_world(database_url: str) -> AsyncIterator[SendApiWorld]:
    """The send API of the `alerts` tenant, lifespan included, over a fresh memory bus."""
    clock = ManualClock()
    database = Database(database_url)
    database.upgrade(SENDTIER_HISTORY)
    bus = MemoryBus(clock=clock)
    await bus.start()
    submitted = await bus.subscribe(SUBMIT, "notifier-test")
    app = create_api_app(alert_settings(database_url), bus, database, clock)
    try:
        async with app.router.lifespan_context(app):
            yield SendApiWorld(app, bus, submitted)
    finally:
        await bus.close()
        database.dispose()
