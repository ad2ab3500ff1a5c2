"""Alert SMS through the real send API (in-process, memory bus, SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from notifier_samples import notification

from controlplane.bus import SUBMIT, MemoryBus
from controlplane.clock import ManualClock
from controlplane.contracts import OutboundMessage
from controlplane.storage import Database
from notifiers.base import Outcome
from notifiers.sms import SmsConfig, SmsNotifier
from sendtier.api import create_api_app
from sendtier.settings import SendTierSettings

ALERTS_TOKEN = "alerts-token-0123456789abcdef"


def settings(database_url: str) -> SendTierSettings:
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


@pytest.fixture
async def send_api(sqlite_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    clock = ManualClock()
    database = Database(sqlite_url)
    database.upgrade()
    bus = MemoryBus(clock=clock)
    await bus.start()
    submitted = await bus.subscribe(SUBMIT, "notifier-test")
    app = create_api_app(settings(sqlite_url), bus, database, clock)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c,
        ):
            yield c, submitted
    finally:
        await bus.close()
        database.dispose()


async def test_alert_sms_reaches_the_send_tier_for_every_recipient(
    send_api: tuple[httpx.AsyncClient, Any],
) -> None:
    client, submitted = send_api
    notifier = SmsNotifier(SmsConfig("http://api", ALERTS_TOKEN), client=client)
    result = await notifier.send(notification(recipients=("13800138000", "13900139000")))
    assert result.outcome is Outcome.DELIVERED, result.detail
    deliveries = await submitted.fetch(10, timeout=0.05)
    messages = [msgspec.msgpack.decode(d.data, type=OutboundMessage) for d in deliveries]
    assert sorted(m.phone for m in messages) == ["+8613800138000", "+8613900139000"]
    assert {m.message_id for m in messages} == set((result.reference or "").split(","))
    first = messages[0]
    assert (first.tenant, first.template_id, first.message_class) == (
        "alerts",
        "alert",
        "notification",
    )
    assert "[critical] Delivery rate below 90% on aliyun" in first.content


async def test_wrong_token_is_a_final_failure(send_api: tuple[httpx.AsyncClient, Any]) -> None:
    client, _ = send_api
    notifier = SmsNotifier(SmsConfig("http://api", "not-a-token"), client=client)
    result = await notifier.send(notification())
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "401")
