"""Alert SMS through the bundled send tier's API: template `alert`, tenant `alerts`, one batch."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import httpx
import orjson

from notifiers.base import Notification, NotifyResult, Outcome
from notifiers.cut import cut_utf8
from notifiers.templates import Templates, default_templates
from notifiers.transport import json_object, new_client, request, retry_after_s

log = logging.getLogger(__name__)

CHANNEL: Final = "sms"
# The send API caps a parameter at 128 characters (sendtier/api/bodies.py); stay well inside.
SUMMARY_MAX_BYTES: Final = 120


@dataclass(frozen=True)
class SmsConfig:
    api_url: str  # the send tier's API, e.g. http://127.0.0.1:8081
    token: str  # the bearer token of the `alerts` tenant
    template_id: str = "alert"


class SmsNotifier:
    """One batch request per notification: every recipient gets `[severity] summary`."""

    def __init__(
        self,
        config: SmsConfig,
        *,
        client: httpx.AsyncClient | None = None,
        templates: Templates = default_templates,
    ) -> None:
        self.config = config
        self._client = client or new_client()
        self._owns_client = client is None
        self._templates = templates

    @property
    def channel(self) -> str:
        return CHANNEL

    def body(self, notification: Notification) -> dict[str, object]:
        summary = cut_utf8(self._templates.render("sms", notification), SUMMARY_MAX_BYTES)
        severity = notification.severity or notification.common_labels.get("severity", "alert")
        return {
            "template_id": self.config.template_id,
            "message_class": "notification",
            "recipients": [{"phone": phone} for phone in notification.recipients],
            "params": {"severity": severity, "summary": summary},
        }

    async def send(self, notification: Notification) -> NotifyResult:
        if not notification.recipients:
            return NotifyResult(Outcome.FAILED, CHANNEL, "no recipients", "no_recipients")
        answer = await request(
            self._client,
            CHANNEL,
            "POST",
            f"{self.config.api_url}/v1/messages/batch",
            content=orjson.dumps(self.body(notification)),
            headers={
                "Authorization": f"Bearer {self.config.token}",
                "Content-Type": "application/json",
            },
        )
        if isinstance(answer, NotifyResult):
            return answer
        status, body = answer.status_code, json_object(answer) or {}
        if status == 202:
            messages = body.get("messages") or []
            rejected = body.get("rejected") or []
            ids = ",".join(str(m.get("message_id")) for m in messages if isinstance(m, dict))
            detail = f"accepted {len(messages)}, rejected {len(rejected)}"
            if not messages:
                log.warning("sms all recipients rejected rejected=%s", rejected)
                return NotifyResult(Outcome.FAILED, CHANNEL, detail, "rejected")
            return NotifyResult(Outcome.DELIVERED, CHANNEL, detail, reference=ids)
        detail = f"HTTP {status}: {body.get('error', '')} (field {body.get('field')})"
        if status == 429 or status >= 500:
            wait = retry_after_s(answer)
            if wait is None and isinstance(body.get("retry_after_s"), int | float):
                wait = float(body["retry_after_s"])
            return NotifyResult(Outcome.RETRY, CHANNEL, detail, str(status), wait)
        log.warning("sms refused status=%d detail=%s", status, detail)
        return NotifyResult(Outcome.FAILED, CHANNEL, detail, str(status))

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
