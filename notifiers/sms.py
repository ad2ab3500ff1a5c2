"""Alert SMS through the bundled send tier's API (pinned to the healthiest supplier), or
supplier-direct when the send tier is down: template `alert`, tenant `alerts`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import httpx
import orjson
import phonenumbers

from notifiers.base import Notification, NotifyResult, Outcome
from notifiers.cut import cut_utf8
from notifiers.sms_direct import DirectSms, Recipient
from notifiers.templates import Templates, default_templates
from notifiers.transport import json_object, new_client, request, retry_after_s
from sendtier.carriers import carrier_of

log = logging.getLogger(__name__)

CHANNEL: Final = "sms"
# The send API caps a parameter at 128 characters (sendtier/api/bodies.py); stay well inside.
SUMMARY_MAX_BYTES: Final = 120
ALERT_TEMPLATE: Final = "alert"  # the send tier template alert SMS use: "[{severity}] {summary}"
ALERT_PARAMS: Final = ("severity", "summary")  # what `params` fills in
API_ATTEMPTS: Final = 2
API_RETRY_DELAY_S: Final = 0.5

Sleep = Callable[[float], Awaitable[None]]


class SupplierRanking(Protocol):
    """Which suppliers alert SMS may use on a carrier (controlplane.alerting.supplier_health)."""

    def ranked(self, carrier: str) -> list[str]:
        """Usable suppliers, best first; [] while nothing is known."""
        ...

    def excluded(self, carrier: str) -> frozenset[str]:
        """Suppliers kept out of traffic (ejected, draining)."""
        ...


@dataclass(frozen=True)
class SmsConfig:
    api_url: str  # the send tier's API, e.g. http://127.0.0.1:8081
    token: str  # the bearer token of the `alerts` tenant
    template_id: str = ALERT_TEMPLATE


def _recipient(phone: str) -> Recipient:
    """The number in E.164 (a bare mainland number is read as +86) with its carrier."""
    try:
        e164 = phonenumbers.format_number(
            phonenumbers.parse(phone, "CN"), phonenumbers.PhoneNumberFormat.E164
        )
    except phonenumbers.NumberParseException:
        e164 = phone  # the send API names the bad number in its answer
    return Recipient(e164, carrier_of(e164))


class SmsNotifier:
    """Every recipient gets `[severity] summary`: one batch request per chosen supplier.

    With a `ranking`, each recipient's carrier picks the healthiest supplier and the batch is
    pinned to it (the send API honours `supplier` like a pin), so alert SMS never ride on a
    supplier the routing table ejected. With `direct`, a send tier that stays down (no
    connection, 5xx) after `API_ATTEMPTS` is bypassed: the supplier adapters submit directly.
    A pinned message gets no second supplier inside the send tier; the pin is still the better
    bet, as it keeps alert SMS off a supplier that the ranking has seen failing.
    """

    def __init__(
        self,
        config: SmsConfig,
        *,
        client: httpx.AsyncClient | None = None,
        templates: Templates = default_templates,
        ranking: SupplierRanking | None = None,
        direct: DirectSms | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config
        self._client = client or new_client()
        self._owns_client = client is None
        self._templates = templates
        self._ranking = ranking
        self._direct = direct
        self._sleep = sleep

    @property
    def channel(self) -> str:
        return CHANNEL

    def params(self, notification: Notification) -> dict[str, str]:
        summary = cut_utf8(self._templates.render("sms", notification), SUMMARY_MAX_BYTES)
        severity = notification.severity or notification.common_labels.get("severity", "alert")
        return {"severity": severity, "summary": summary}

    def body(
        self,
        notification: Notification,
        phones: Sequence[str] | None = None,
        supplier: str | None = None,
    ) -> dict[str, object]:
        """The batch request: to `phones` (default: every recipient), pinned to `supplier`."""
        body: dict[str, object] = {
            "template_id": self.config.template_id,
            "message_class": "notification",
            "recipients": [{"phone": phone} for phone in phones or notification.recipients],
            "params": self.params(notification),
        }
        if supplier is not None:
            body["supplier"] = supplier
        return body

    def supplier_for(self, carrier: str) -> str | None:
        """The supplier to pin a recipient of `carrier` to; None leaves the choice to routing."""
        ranked = self._ranking.ranked(carrier) if self._ranking is not None else []
        return ranked[0] if ranked else None

    async def send(self, notification: Notification) -> NotifyResult:
        if not notification.recipients:
            return NotifyResult(Outcome.FAILED, CHANNEL, "no recipients", "no_recipients")
        recipients_by_supplier: dict[str | None, list[Recipient]] = {}
        for phone in notification.recipients:
            recipient = _recipient(phone)
            supplier = self.supplier_for(recipient.carrier)
            recipients_by_supplier.setdefault(supplier, []).append(recipient)
        results = [
            await self._send_pinned(notification, supplier, recipients)
            for supplier, recipients in recipients_by_supplier.items()
        ]
        return results[0] if len(results) == 1 else _merged(results)

    async def _send_pinned(
        self, notification: Notification, supplier: str | None, recipients: list[Recipient]
    ) -> NotifyResult:
        # Why this supplier: the healthiest the ranking knows for the recipients' carrier.
        log.info(
            "sms.send group_key=%s supplier=%s recipients=%d",
            notification.group_key,
            supplier or "routing",
            len(recipients),
        )
        body = self.body(notification, [r.phone for r in recipients], supplier)
        result = await self._via_api(orjson.dumps(body))
        if self._direct is None or not _send_tier_down(result):
            return result
        log.warning(
            "sms.send_tier_down code=%s detail=%s: sending supplier-direct",
            result.error_code,
            result.detail,
        )
        order = {r.carrier: self._direct_order(self._direct, r.carrier) for r in recipients}
        return await self._direct.send(recipients, self.params(notification), order)

    def _direct_order(self, direct: DirectSms, carrier: str) -> list[str]:
        """Suppliers to try directly: the ranking's, else the configured ones not kept out."""
        if self._ranking is None:
            return list(direct.suppliers)
        ranked = self._ranking.ranked(carrier)
        if ranked:
            return ranked
        excluded = self._ranking.excluded(carrier)
        return [name for name in direct.suppliers if name not in excluded]

    async def _via_api(self, content: bytes) -> NotifyResult:
        """POST the batch; a send tier that looks down is tried again once, shortly."""
        result = await self._post(content)
        if self._direct is not None and _send_tier_down(result):
            for _ in range(API_ATTEMPTS - 1):
                await self._sleep(API_RETRY_DELAY_S)
                result = await self._post(content)
                if not _send_tier_down(result):
                    break
        return result

    async def _post(self, content: bytes) -> NotifyResult:
        answer = await request(
            self._client,
            CHANNEL,
            "POST",
            f"{self.config.api_url}/v1/messages/batch",
            content=content,
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
        # `direct` is shared by every SMS channel: whoever built it closes it.
        if self._owns_client:
            await self._client.aclose()


def _send_tier_down(result: NotifyResult) -> bool:
    """No connection or a 5xx: the send tier cannot take it (429 is its rate limit: it is up)."""
    code = result.error_code or ""
    return result.outcome is Outcome.RETRY and (code == "transport" or code.startswith("5"))


def _merged(results: Sequence[NotifyResult]) -> NotifyResult:
    """One result for the batches of one notification: delivered when any batch was."""
    detail = "; ".join(r.detail for r in results)
    delivered = [r for r in results if r.outcome is Outcome.DELIVERED]
    if delivered:
        reference = ",".join(r.reference or "" for r in delivered)
        return NotifyResult(Outcome.DELIVERED, CHANNEL, detail, reference=reference)
    retriable = [r for r in results if r.outcome is Outcome.RETRY]
    first = (retriable or list(results))[0]
    return NotifyResult(first.outcome, CHANNEL, detail, first.error_code, first.retry_after_s)
