"""Alert SMS through the real send API (in-process, memory bus, SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from notifier_samples import notification
from send_api_world import ALERTS_TOKEN, API_URL, SendApiWorld, send_api_world

from notifiers.base import Outcome
from notifiers.sms import SmsConfig, SmsNotifier


@pytest.fixture
async def send_api(sqlite_url: str) -> AsyncIterator[SendApiWorld]:
    async with send_api_world(sqlite_url) as world:
        yield world


async def test_alert_sms_reaches_the_send_tier_for_every_recipient(
    send_api: SendApiWorld,
) -> None:
    client, _ = send_api.client()
    notifier = SmsNotifier(SmsConfig(API_URL, ALERTS_TOKEN), client=client)
    result = await notifier.send(notification(recipients=("13800138000", "13900139000")))
    assert result.outcome is Outcome.DELIVERED, result.detail
    messages = await send_api.published()
    assert sorted(m.phone for m in messages) == ["+8613800138000", "+8613900139000"]
    assert {m.message_id for m in messages} == set((result.reference or "").split(","))
    first = messages[0]
    assert (first.tenant, first.template_id, first.message_class) == (
        "alerts",
        "alert",
        "notification",
    )
    assert "[critical] Delivery rate below 90% on aliyun" in first.content


async def test_wrong_token_is_a_final_failure(send_api: SendApiWorld) -> None:
    client, _ = send_api.client()
    notifier = SmsNotifier(SmsConfig(API_URL, "not-a-token"), client=client)
    result = await notifier.send(notification())
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "401")
