"""Builders for receipt gateway tests: settings, signed pushes, a served app, the bus output."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
from fastapi import FastAPI

from sendtier.receipts import ReceiptGatewayService, create_receipt_gateway_app
from sendtier.settings import SendTierSettings
from sendtier.storage import Database
from smsplatform.bus import RECEIPTS, SUBMITTED, Bus
from smsplatform.clock import Clock
from smsplatform.contracts import (
    OutboundMessage,
    Receipt,
    SubmitResult,
    decode_batch,
    encode_batch,
)
from smsplatform.http.serving import Served, ServerGroup
from suppliers.registry import make_callback_reader
from suppliers.signing import twilio_signature

T0 = datetime(2026, 7, 1, 4, 0, tzinfo=UTC)
PUBLIC_URL = "https://receipts.example.com"
ALIYUN = "aliyun-main"
TWILIO = "twilio-us"
ALIYUN_TOKEN = "aliyun-callback-token-0123"
TWILIO_AUTH_TOKEN = "twilio-auth-token-0123456789abcd"
RETRY_WINDOW_S = 5.0


def settings_for(
    database_url: str,
    receipts: dict[str, Any] | None = None,
    suppliers: list[dict[str, Any]] | None = None,
    **bus: Any,
) -> SendTierSettings:
    """The gateway tests' settings; `receipts` overrides the gateway's section, `suppliers`
    are configured besides ALIYUN and TWILIO."""
    return SendTierSettings.model_validate(
        {
            "database": {"url": database_url},
            "bus": {"backend": "memory", "ack_wait_s": 5.0, **bus},
            "receipts": {
                "public_url": PUBLIC_URL,
                "correlation_retry_s": RETRY_WINDOW_S,
                "max_body_bytes": 64 * 1024,
                **(receipts or {}),
            },
            "suppliers": [
                {
                    "name": ALIYUN,
                    "account": {
                        "dialect": "aliyun",
                        "access_key_id": "ak",
                        "access_key_secret": "s",
                    },
                    "base_url": "http://127.0.0.1:1",
                    "callback_token": ALIYUN_TOKEN,
                },
                {
                    "name": TWILIO,
                    "account": {
                        "dialect": "twilio",
                        "account_sid": "AC" + "0" * 32,
                        "auth_token": TWILIO_AUTH_TOKEN,
                    },
                    "base_url": "http://127.0.0.1:1",
                },
                *(suppliers or []),
            ],
        }
    )


def outbound(message_id: str) -> OutboundMessage:
    """An accepted message, as the send API puts it on sms.submit."""
    return OutboundMessage(
        message_id=message_id,
        tenant="shop",
        phone="+8613800000001",
        carrier="cucc",
        message_class="notification",
        sign_name="商城",
        template_id="shipped",
        template_params={"order": "A1"},
        content="【商城】您的订单A1已发货",
        segments=1,
        accepted_at=T0 - timedelta(seconds=1),
    )


def submit_result(n: int, supplier: str = TWILIO, **changes: Any) -> SubmitResult:
    fields: dict[str, Any] = {
        "message_id": f"m-{n:05d}",
        "supplier": supplier,
        "carrier": "cucc",
        "message_class": "notification",
        "accepted": True,
        "latency_ms": 80.0,
        "at": T0,
        "supplier_message_id": f"SM{n:032x}" if supplier == TWILIO else f"biz-{n}",
    }
    return SubmitResult(**{**fields, **changes})


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app on a free 127.0.0.1 port, served as the services serve it, and a client for it."""
    group = ServerGroup([Served("receipts", app)])
    urls = await group.start()
    try:
        async with httpx.AsyncClient(base_url=urls["receipts"], timeout=5) as client:
            yield client
    finally:
        await group.stop()


@asynccontextmanager
async def gateway(
    settings: SendTierSettings, bus: Bus, database: Database, clock: Clock
) -> AsyncIterator[tuple[httpx.AsyncClient, ReceiptGatewayService]]:
    """The served gateway with the configured suppliers' real readers."""
    readers = {supplier.name: make_callback_reader(supplier) for supplier in settings.suppliers}
    app = create_receipt_gateway_app(settings, bus, database, readers, clock)
    async with serving(app) as client:
        yield client, app.state.service


async def publish_submits(bus: Bus, results: list[SubmitResult]) -> None:
    await bus.publish(SUBMITTED, encode_batch(results))


async def until(condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    """Wait for something another task does (e.g. the index feed); fails after timeout_s."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


async def published(bus: Bus) -> list[Receipt]:
    """Every receipt on sms.receipts not read yet by the test's own durable."""
    subscription = await bus.subscribe(RECEIPTS, "test-reader")
    receipts: list[Receipt] = []
    while deliveries := await subscription.fetch(1000, 0.05):
        for delivery in deliveries:
            receipts.extend(decode_batch(Receipt, delivery.data))
            await delivery.ack()
    await subscription.close()
    return receipts


async def aliyun_push(
    client: httpx.AsyncClient, reports: list[dict[str, Any]], token: str = ALIYUN_TOKEN
) -> httpx.Response:
    return await client.post(
        aliyun_url(token),
        content=orjson.dumps(reports),
        headers={"Content-Type": "application/json"},
    )


async def published_eventually(bus: Bus, count: int, timeout_s: float = 3.0) -> list[Receipt]:
    """The receipts on sms.receipts once there are `count` of them; fails after timeout_s."""
    receipts: list[Receipt] = []
    async with asyncio.timeout(timeout_s):
        while len(receipts) < count:
            receipts.extend(await published(bus))
            await asyncio.sleep(0.02)
    return receipts


def aliyun_url(token: str = ALIYUN_TOKEN) -> str:
    """The callback path Alibaba is given for ALIYUN, with its token."""
    return f"/v1/callbacks/{ALIYUN}?{urlencode({'token': token})}"


def aliyun_report(biz_id: str, out_id: str | None = None, **changes: Any) -> dict[str, Any]:
    report = {
        "phone_number": "13800000001",
        "send_time": "2026-07-01 12:00:00",
        "report_time": "2026-07-01 12:00:07",
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": biz_id,
        "out_id": out_id,
    }
    return {**report, **changes}


async def twilio_push(
    client: httpx.AsyncClient,
    sid: str,
    status: str = "delivered",
    message_id: str | None = None,
    auth_token: str = TWILIO_AUTH_TOKEN,
) -> httpx.Response:
    """A status callback signed as Twilio signs it: over the public URL and the form."""
    form = {"MessageSid": sid, "MessageStatus": status, "To": "+14155550100", "AccountSid": "AC1"}
    path = f"/v1/callbacks/{TWILIO}" + (f"?{urlencode({'mid': message_id})}" if message_id else "")
    signature = twilio_signature(auth_token, PUBLIC_URL + path, form)
    return await client.post(
        path,
        content=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )


def metric(service: ReceiptGatewayService, name: str, **labels: str) -> float:
    value = service.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value
