"""Alertmanager-compatible webhook: the v4 JSON payload, byte for byte as Alertmanager sends it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

import httpx
import msgspec

from notifiers.base import AlertSummary, Notification, NotifyResult, Outcome
from notifiers.transport import new_client, retry_after_s, send_request
from smsplatform.redact import safe_url

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
    # The `Authorization` header value (Basic or Bearer, from `http_config`); a secret.
    authorization: str | None = field(default=None, repr=False)


class _Alert(msgspec.Struct, rename="camel"):
    """One alert of the payload; fields in Alertmanager's order (Go marshals structs in order)."""

    status: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: str
    ends_at: str
    generator_url: str = msgspec.field(name="generatorURL")
    fingerprint: str


class _Message(msgspec.Struct, rename="camel"):
    """The webhook message, version 4, in Alertmanager's field order."""

    receiver: str
    status: str
    alerts: list[_Alert]
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str = msgspec.field(name="externalURL")
    version: str
    group_key: str
    truncated_alerts: int


def _plain(value: Any) -> Any:
    """Label maps that are not dicts (read-only views) are encoded as the dicts they show."""
    if isinstance(value, Mapping):
        return dict(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


# "deterministic" sorts map keys, as Go marshals maps, and keeps struct fields in order.
_ENCODER: Final = msgspec.json.Encoder(order="deterministic", enc_hook=_plain)


def quote_meta(text: str) -> str:
    return "".join(f"\\{char}" if char in _GO_REGEX_SPECIAL else char for char in text)


@lru_cache(maxsize=4096)
def rfc3339(at: datetime) -> str:
    """Go's RFC3339Nano form in UTC: fractional seconds only when non-zero, no trailing zeros.

    Cached: a group's alerts mostly share a start time, and each is sent again on every change.
    """
    utc = at.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def _alert(alert: AlertSummary) -> _Alert:
    ends_at = alert.ends_at if alert.status == "resolved" else None
    return _Alert(
        alert.status,
        alert.labels,
        alert.annotations,
        rfc3339(alert.starts_at),
        rfc3339(ends_at) if ends_at is not None else ZERO_TIME,
        alert.generator_url,
        alert.fingerprint,
    )


def payload(notification: Notification, config: WebhookConfig) -> bytes:
    """The request body: one JSON object and a newline, as Go's json.Encoder writes it."""
    alerts = notification.alerts
    kept = alerts[: config.max_alerts] if config.max_alerts > 0 else alerts
    message = _Message(
        quote_meta(notification.receiver),
        notification.status,
        [_alert(a) for a in kept],
        notification.group_labels,
        notification.common_labels,
        notification.common_annotations,
        config.external_url,
        "4",
        notification.group_key,
        len(alerts) - len(kept),
    )
    body = _ENCODER.encode(message)
    for raw, escaped in _GO_JSON_ESCAPES:
        if raw in body:
            body = body.replace(raw, escaped)
    return body + b"\n"


class WebhookNotifier:
    """POSTs the payload to one URL: 2xx delivered, 5xx retried, anything else final."""

    def __init__(self, config: WebhookConfig, *, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._client = client or new_client()
        self._owns_client = client is None
        # Parsed once: a flush posts hundreds of payloads to the same URL.
        self._url = httpx.URL(config.url)
        self._headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if config.authorization is not None:
            self._headers["Authorization"] = config.authorization

    @property
    def channel(self) -> str:
        return CHANNEL

    async def send(self, notification: Notification) -> NotifyResult:
        built = httpx.Request(
            "POST",
            self._url,
            content=payload(notification, self.config),
            headers=self._headers,
            extensions={"timeout": self._client.timeout.as_dict()},
        )
        answer = await send_request(self._client, CHANNEL, built)
        if isinstance(answer, NotifyResult):
            return answer
        status = answer.status_code
        detail = f"HTTP {status}"
        if 200 <= status < 300:
            return NotifyResult(Outcome.DELIVERED, CHANNEL, detail)
        if status >= 500:
            return NotifyResult(Outcome.RETRY, CHANNEL, detail, str(status), retry_after_s(answer))
        log.warning("webhook refused url=%s status=%d", safe_url(self.config.url), status)
        return NotifyResult(Outcome.FAILED, CHANNEL, detail, str(status))

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
