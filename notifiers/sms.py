"""Alert SMS through the bundled send tier's API (pinned to the healthiest supplier), or
supplier-direct when the send tier is down: template `alert`, tenant `alerts`.

Nothing is sent twice for it. A notification's requests are planned on its first try and kept:
every retry sends the same body under the same Idempotency-Key (from the notification's id and
the batch's numbers), so the send API answers a retry with the first try's messages, or sends
only what the first left unpublished. Each batch keeps to one path once it may have sent:

- supplier-direct only while no try can have reached the send tier's bus: the connection could
  not be made (the request never left), or the API answered 503 with `"sent": "none"`;
- an answer that may hide an accepted send (a timeout, a connection lost after the request
  was written, any other 5xx, 409: the first try still in flight) closes the direct path for
  the batch: it is retried through the API, under its key;
- once a batch went direct, its retries go direct too (sms_direct.py remembers who was sent to).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, Protocol

import httpx
import orjson
import phonenumbers

from notifiers.base import Notification, NotifyResult, Outcome
from notifiers.cut import cut_utf8
from notifiers.sms_direct import DirectSms, Recipient
from notifiers.templates import Templates, default_templates
from notifiers.transport import json_object, new_client, retry_after_s
from suppliers.carriers import carrier_of

log = logging.getLogger(__name__)

CHANNEL: Final = "sms"
# The send API caps a parameter at 128 characters (sendtier/api/bodies.py); stay well inside.
SUMMARY_MAX_BYTES: Final = 120
ALERT_TEMPLATE: Final = "alert"  # the send tier template alert SMS use: "[{severity}] {summary}"
ALERT_PARAMS: Final = ("severity", "summary")  # what `params` fills in
API_ATTEMPTS: Final = 2
API_RETRY_DELAY_S: Final = 0.5
# Notifications whose planned requests are kept for their retries, newest last.
REMEMBERED_NOTIFICATIONS: Final = 10_000
# Failures that happen before a request leaves: the send tier cannot have taken it.
_UNREACHED: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

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


class SendPath(Enum):
    """Which way a batch may still go."""

    EITHER = "either"  # nothing of it can have been sent yet
    API = "api"  # a try may have reached the send tier: only through it, under its key
    DIRECT = "direct"  # it went supplier-direct: only that way again


@dataclass
class Batch:
    """One request of a notification, the same on every try: recipients, body and key."""

    supplier: str | None
    recipients: list[Recipient]
    content: bytes
    key: str
    path: SendPath = SendPath.EITHER


def idempotency_key(notification_id: str, phones: Sequence[str]) -> str:
    """The Idempotency-Key of a notification's batch to `phones`."""
    digest = hashlib.sha256(notification_id.encode())
    for phone in sorted(phones):
        digest.update(b"\0" + phone.encode())
    return f"alert-{digest.hexdigest()[:40]}"


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
    supplier the routing table ejected. With `direct`, a send tier that provably took nothing
    (no connection, or 503 with nothing sent) after `API_ATTEMPTS` is bypassed: the supplier
    adapters submit directly (see the module's docstring for when that is safe).
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
        # (notification id, recipients) → its batches, planned on the first try.
        self._planned: OrderedDict[tuple[str, tuple[str, ...]], list[Batch]] = OrderedDict()

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
        results = [
            await self._send_batch(notification, batch) for batch in self._batches(notification)
        ]
        return results[0] if len(results) == 1 else _merged(results)

    def _batches(self, notification: Notification) -> list[Batch]:
        """The notification's requests: planned on its first try, the same on every retry."""
        planned_as = (notification.notification_id, tuple(notification.recipients))
        batches = self._planned.get(planned_as)
        if batches is None:
            batches = self._planned[planned_as] = self._plan(notification)
            if len(self._planned) > REMEMBERED_NOTIFICATIONS:
                self._planned.popitem(last=False)
        return batches

    def _plan(self, notification: Notification) -> list[Batch]:
        """One batch per chosen supplier."""
        recipients_by_supplier: dict[str | None, list[Recipient]] = {}
        for phone in notification.recipients:
            recipient = _recipient(phone)
            supplier = self.supplier_for(recipient.carrier)
            recipients_by_supplier.setdefault(supplier, []).append(recipient)
        batches = []
        for supplier, recipients in recipients_by_supplier.items():
            phones = [r.phone for r in recipients]
            content = orjson.dumps(self.body(notification, phones, supplier))
            key = idempotency_key(notification.notification_id, phones)
            batches.append(Batch(supplier, recipients, content, key))
        return batches

    async def _send_batch(self, notification: Notification, batch: Batch) -> NotifyResult:
        # Why this supplier: the healthiest the ranking knows for the recipients' carrier.
        log.info(
            "event=sms_send group_key=%s supplier=%s recipients=%d key=%s path=%s",
            notification.group_key,
            batch.supplier or "routing",
            len(batch.recipients),
            batch.key,
            batch.path.value,
        )
        if batch.path is not SendPath.DIRECT:
            result = await self._via_api(batch)
            if self._direct is None or batch.path is SendPath.API:
                return result
            log.warning(
                "event=sms_going_direct key=%s code=%s detail=%s",
                batch.key,
                result.error_code,
                result.detail,
            )
        assert self._direct is not None
        batch.path = SendPath.DIRECT
        order = {r.carrier: self._direct_order(self._direct, r.carrier) for r in batch.recipients}
        params = self.params(notification)
        return await self._direct.send(batch.recipients, params, order, batch.key)

    def _direct_order(self, direct: DirectSms, carrier: str) -> list[str]:
        """Suppliers to try directly: the ranking's, else the configured ones not kept out."""
        if self._ranking is None:
            return list(direct.suppliers)
        ranked = self._ranking.ranked(carrier)
        if ranked:
            return ranked
        excluded = self._ranking.excluded(carrier)
        return [name for name in direct.suppliers if name not in excluded]

    async def _via_api(self, batch: Batch) -> NotifyResult:
        """POST the batch; a send tier that provably took nothing is tried again once, shortly
        (when there is a direct path to fall back on). Marks the batch API-only the moment a
        try may have been taken."""
        for attempt in range(API_ATTEMPTS if self._direct is not None else 1):
            if attempt:
                await self._sleep(API_RETRY_DELAY_S)
            result, took_nothing = await self._post(batch)
            if not took_nothing:
                batch.path = SendPath.API
                break
        return result

    async def _post(self, batch: Batch) -> tuple[NotifyResult, bool]:
        """The send API's answer as a result, and whether it proves nothing was taken."""
        built = self._client.build_request(
            "POST",
            f"{self.config.api_url}/v1/messages/batch",
            content=batch.content,
            headers={
                "Authorization": f"Bearer {self.config.token}",
                "Content-Type": "application/json",
                "Idempotency-Key": batch.key,
            },
        )
        try:
            answer = await self._client.send(built)
        except _UNREACHED as exc:
            log.warning("event=sms_send_tier_unreachable key=%s error=%r", batch.key, exc)
            detail = f"send tier unreachable: {exc!r}"
            return NotifyResult(Outcome.RETRY, CHANNEL, detail, "unreached"), True
        except httpx.HTTPError as exc:
            # The request may have reached the API, and the API may have taken it.
            log.warning("event=sms_send_tier_answer_lost key=%s error=%r", batch.key, exc)
            detail = f"transport error: {exc!r}"
            return NotifyResult(Outcome.RETRY, CHANNEL, detail, "transport"), False
        status, body = answer.status_code, json_object(answer) or {}
        return _result(answer, status, body), status == 503 and body.get("sent") == "none"

    async def aclose(self) -> None:
        # `direct` is shared by every SMS channel: whoever built it closes it.
        if self._owns_client:
            await self._client.aclose()


def _result(answer: httpx.Response, status: int, body: dict[str, Any]) -> NotifyResult:
    """What the send API's answer to a batch means for the notification."""
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
    # 409: the first try under this key is still being answered; ask again shortly.
    if status in (409, 429) or status >= 500:
        wait = retry_after_s(answer)
        if wait is None and isinstance(body.get("retry_after_s"), int | float):
            wait = float(body["retry_after_s"])
        return NotifyResult(Outcome.RETRY, CHANNEL, detail, str(status), wait)
    log.warning("sms refused status=%d detail=%s", status, detail)
    return NotifyResult(Outcome.FAILED, CHANNEL, detail, str(status))


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
