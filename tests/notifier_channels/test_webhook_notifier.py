"""The Alertmanager-compatible webhook: byte-exact v4 payload, and 2xx/5xx/4xx handling."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from notifier_samples import notification

from notifiers.base import AlertSummary, Outcome
from notifiers.webhook import WebhookConfig, WebhookNotifier, payload
from testbench.fakes.server import running_fake
from testbench.fakes.webhook import WebhookReceiverFake

GOLDEN = Path(__file__).parent / "golden" / "webhook_v4.json"
LABELS = {"severity": "critical", "alertname": "DeliveryRateLow"}


def group() -> object:
    firing = AlertSummary(
        fingerprint="1a2b3c4d5e6f7081",
        status="firing",
        labels={"supplier": "aliyun", **LABELS},
        annotations={"summary": "Delivery rate low", "description": "rate < 90% & falling"},
        starts_at=datetime(2026, 1, 1, 8, 0, 0, 250000, tzinfo=UTC),
        generator_url="http://console.local/rules/delivery",
    )
    resolved = AlertSummary(
        fingerprint="0f0e0d0c0b0a0908",
        status="resolved",
        labels={"supplier": "tencent", **LABELS},
        annotations={},
        starts_at=datetime(2026, 1, 1, 8, 0, tzinfo=UTC),
        ends_at=datetime(2026, 1, 1, 8, 5, 30, tzinfo=UTC),
    )
    dropped = AlertSummary(
        "ffffffffffffffff",
        "firing",
        {"supplier": "cmpp", **LABELS},
        {},
        datetime(2026, 1, 1, 8, 0, tzinfo=UTC),
    )
    return notification(
        receiver="sms.team",
        group_key='{}/{severity="critical"}:{alertname="DeliveryRateLow"}',
        alerts=[firing, resolved, dropped],
        group_labels={"alertname": "DeliveryRateLow"},
        common_labels=LABELS,
        common_annotations={},
    )


def test_payload_is_byte_exact_against_the_golden_file() -> None:
    config = WebhookConfig("http://unused", max_alerts=2, external_url="http://console.local")
    assert payload(group(), config) == GOLDEN.read_bytes()  # type: ignore[arg-type]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[WebhookReceiverFake, str]]:
    fake = WebhookReceiverFake()
    async with running_fake(fake.app) as base_url:
        yield fake, base_url


async def test_receiver_gets_the_payload_with_alertmanager_headers(
    receiver: tuple[WebhookReceiverFake, str],
) -> None:
    fake, base_url = receiver
    config = WebhookConfig(f"{base_url}/hook", max_alerts=2, external_url="http://console.local")
    notifier = WebhookNotifier(config)
    result = await notifier.send(group())  # type: ignore[arg-type]
    await notifier.aclose()
    assert result.outcome is Outcome.DELIVERED
    assert fake.raw == [GOLDEN.read_bytes()]
    assert fake.headers[0]["content-type"] == "application/json"
    assert fake.headers[0]["user-agent"].startswith("Alertmanager/")


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (500, Outcome.RETRY),
        (503, Outcome.RETRY),
        (404, Outcome.FAILED),
        (429, Outcome.FAILED),
        (204, Outcome.DELIVERED),
    ],
)
async def test_status_decides_the_outcome(
    receiver: tuple[WebhookReceiverFake, str], status: int, outcome: Outcome
) -> None:
    fake, base_url = receiver
    fake.status = status
    notifier = WebhookNotifier(WebhookConfig(f"{base_url}/hook"))
    result = await notifier.send(notification())
    await notifier.aclose()
    assert (result.outcome, result.detail) == (outcome, f"HTTP {status}")


async def test_unreachable_receiver_is_a_retry() -> None:
    notifier = WebhookNotifier(WebhookConfig("http://127.0.0.1:9/hook"))
    result = await notifier.send(notification())
    await notifier.aclose()
    assert (result.outcome, result.error_code) == (Outcome.RETRY, "transport")
