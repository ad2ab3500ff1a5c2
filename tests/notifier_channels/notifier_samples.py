"""Notifications the notifier tests send, built from plain values."""

from __future__ import annotations

from datetime import UTC, datetime

from notifiers.base import AlertSummary, Notification

STARTED = datetime(2026, 1, 1, 8, 0, 0, tzinfo=UTC)


def alert(name: str = "DeliveryRateLow", **labels: str) -> AlertSummary:
    all_labels = {"alertname": name, "severity": "critical", **labels}
    return AlertSummary(
        fingerprint=f"{abs(hash(tuple(sorted(all_labels.items())))):016x}"[:16],
        status="firing",
        labels=all_labels,
        annotations={"summary": f"{name} on {labels.get('supplier', 'all')}"},
        starts_at=STARTED,
    )


def notification(**overrides: object) -> Notification:
    values: dict[str, object] = {
        "receiver": "sms-team",
        "group_key": '{}:{alertname="DeliveryRateLow"}',
        "status": "firing",
        "alerts": [alert(supplier="aliyun")],
        "group_labels": {"alertname": "DeliveryRateLow"},
        "common_labels": {"alertname": "DeliveryRateLow", "severity": "critical"},
        "common_annotations": {"summary": "Delivery rate below 90% on aliyun"},
        "recipients": ("13800138000",),
        "console_url": "http://console.local/alerts/g1",
        "severity": "critical",
    }
    values.update(overrides)
    return Notification(**values)  # type: ignore[arg-type]
