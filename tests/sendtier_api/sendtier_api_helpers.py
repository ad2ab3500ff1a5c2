"""Builders for send API tests: settings, the app served in-process, and what reached the bus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
from fastapi import FastAPI

from sendtier.api import create_api_app
from sendtier.settings import SendTierSettings
from sendtier.storage import SENDTIER_HISTORY, Database
from smsplatform.bus import SUBMIT, MemoryBus, Subscription
from smsplatform.clock import ManualClock
from smsplatform.contracts import OutboundMessage

SHOP_TOKEN = "shop-token-0123456789abcdef"
BANK_TOKEN = "bank-token-0123456789abcdef"
OTP_TEXT = "您的验证码是{code}，5分钟内有效。"


def api_settings(database_url: str, **overrides: Any) -> SendTierSettings:
    """Two tenants (shop, bank), templates of every class, and `overrides` on top (top-level)."""
    raw: dict[str, Any] = {
        "database": {"url": database_url},
        "suppliers": [
            {
                "name": "aliyun",
                "account": {
                    "dialect": "aliyun",
                    "access_key_id": "id",
                    "access_key_secret": "secret",
                },
                "base_url": "http://127.0.0.1:1",
            }
        ],
        "tenants": [
            {"name": "shop", "token": SHOP_TOKEN, "signatures": ["好店", "好店商城"]},
            {"name": "bank", "token": BANK_TOKEN, "signatures": ["某银行"]},
        ],
        "templates": [
            {"id": "otp_login", "message_class": "otp", "text": OTP_TEXT},
            {"id": "otp_en", "message_class": "otp", "text": "Your code is {code}"},
            {
                "id": "order_shipped",
                "message_class": "notification",
                "text": "您的订单{order}已发货，快递单号{tracking}。",
            },
            {"id": "free_text", "message_class": "notification", "text": "{text}"},
            {
                "id": "promo",
                "message_class": "marketing",
                "text": "双十一大促，全场{discount}折，回T退订",
                "tenants": ["shop"],
            },
        ],
    }
    raw.update(overrides)
    return SendTierSettings.model_validate(raw)


def auth(token: str = SHOP_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def otp(phone: str = "13800000001", code: str = "123456", **extra: Any) -> dict[str, Any]:
    return {"phone": phone, "template_id": "otp_login", "params": {"code": code}, **extra}


_decoder = msgspec.msgpack.Decoder(OutboundMessage)


@dataclass
class Harness:
    """The API app with its bus, database and clock, and a client that calls it in-process."""

    app: FastAPI
    client: httpx.AsyncClient
    bus: MemoryBus
    database: Database
    clock: ManualClock
    _submitted: Subscription

    async def published(self) -> list[OutboundMessage]:
        """Messages put on sms.submit since the last call."""
        deliveries = await self._submitted.fetch(100_000, timeout=0.01)
        for delivery in deliveries:
            await delivery.ack()
        return [_decoder.decode(delivery.data) for delivery in deliveries]

    async def send(self, body: dict[str, Any], token: str = SHOP_TOKEN, **kw: Any) -> Any:
        return await self.client.post("/v1/messages", json=body, headers=auth(token), **kw)


@asynccontextmanager
async def serving(
    settings: SendTierSettings,
    clock: ManualClock | None = None,
    *,
    migrate: bool = True,
    bus: MemoryBus | None = None,
) -> AsyncIterator[Harness]:
    """The app over a started memory bus (`bus`, or a new one) and a migrated database,
    lifespan included."""
    clock = clock or ManualClock()
    database = Database(settings.database.url)
    if migrate:
        database.upgrade(SENDTIER_HISTORY)
    bus = bus or MemoryBus(clock=clock)
    await bus.start()
    submitted = await bus.subscribe(SUBMIT, "test-observer")
    app = create_api_app(settings, bus, database, clock)
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://send-api") as client,
        ):
            yield Harness(app, client, bus, database, clock, submitted)
    finally:
        await bus.close()
        database.dispose()
