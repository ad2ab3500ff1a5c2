"""Alertmanager-compatible webhook: the v4 JSON payload, byte for byte as Alertmanager sends it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import httpx
import orjson

from notifiers.base import AlertSummary, Notification, NotifyResult, Outcome
from notifiers.transport import new_client, request, retry_after_s

log = logging.getLogger(__name__)

CHANNEL: Final = "webhook"
ZERO_TIME: Final = "0001-01-01T00:00:00Z"  # Go's zero time: a still-firing alert's endsAt
USER_AGENT: Final = "Alertmanager/0.25.0"
# Go's regexp.QuoteMeta escapes exactly these (the receiver name is sent regex-escaped).
_GO_REGEX_SPECIAL: Final = frozenset(r"\.+*?()|[]{}^$")
# Go's encoding/json escapes these inside strings by default; Alertmanager keeps the default.
_GO_JSON_ESCAPES: Final = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    max_alerts: int = 0  # 0: send every alert
    external_url: str = ""  # what `externalURL` says: our console


def quote_meta(text: str) -> str:
    return "".join(f"\\{char}" if char in _GO_REGEX_SPECIAL else char for char in text)


def rfc3339(at: datetime) -> str:
    """Go's RFC3339Nano form in UTC: fractional seconds only when non-zero, no trailing zeros."""
    utc = at.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def _sorted(pairs: Mapping[str, str]) -> dict[str, str]:
    # Go marshals maps with sorted keys.
    return dict(sorted(pairs.items()))


def _alert(alert: AlertSummary) -> dict[str, Any]:
    ends_at = alert.ends_at if alert.status == "resolved" else None
    return {
        "status": alert.status,
        "labels": _sorted(alert.labels),
        "annotations": _sorted(alert.annotations),
        "startsAt": rfc3339(alert.starts_at),
        "endsAt": rfc3339(ends_at) if ends_at is not None else ZERO_TIME,
        "generatorURL": alert.generator_url,
        "fingerprint": alert.fingerprint,
    }


def payload(notification: Notification, config: WebhookConfig) -> bytes:
    """The request body: one JSON object and a newline, as Go's json.Encoder writes it."""
    alerts = list(notification.alerts)
    kept = alerts[: config.max_alerts] if config.max_alerts > 0 else alerts
    message = {
        "receiver": quote_meta(notification.receiver),
        "status": notification.status,
        "alerts": [_alert(a) for a in kept],
        "groupLabels": _sorted(notification.group_labels),
        "commonLabels": _sorted(notification.common_labels),
        "commonAnnotations": _sorted(notification.common_annotations),
        "externalURL": config.external_url,
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": len(alerts) - len(kept),
    }
    body = orjson.dumps(message)
    for raw, escaped in _GO_JSON_ESCAPES:
        body = body.replace(raw, escaped)
    return body + b"\n"


class WebhookNotifier:
    """POSTs the payload to one URL: 2xx delivered, 5xx retried, anything else final."""

    def __init__(self, config: WebhookConfig, *, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._client = client or new_client()
        self._owns_client = client is None

    @property
    def channel(self) -> str:
        return CHANNEL

    async def send(self, notification: Notification) -> NotifyResult:
        answer = await request(
            self._client,
            CHANNEL,
            "POST",
            self.config.url,
            content=payload(notification, self.config),
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        if isinstance(answer, NotifyResult):
            return answer
        status = answer.status_code
        detail = f"HTTP {status}"
        if 200 <= status < 300:
            return NotifyResult(Outcome.DELIVERED, CHANNEL, detail)
        if status >= 500:
            return NotifyResult(Outcome.RETRY, CHANNEL, detail, str(status), retry_after_s(answer))
        log.warning("webhook refused url=%s status=%d", self.config.url, status)
        return NotifyResult(Outcome.FAILED, CHANNEL, detail, str(status))

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
