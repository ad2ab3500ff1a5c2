"""Alert SMS straight through a supplier's adapter, for when the send tier's API is down.

The send tier is the thing most likely to be failing when SMS alerts matter most, so the alert
path keeps its own adapters (the send tier's dialects and credentials) and submits one message
per recipient, trying the recipient's suppliers in the order the caller ranks them.

A recipient is sent to once per request key: its message id comes from the key and its number,
and a recipient a supplier took, or may have (no answer in time), is remembered and not
submitted again when the same notification is retried. A timeout is not passed on to the next
supplier either (as dispatch does for all but OTP): it reports "unconfirmed", final for this
channel, so the notification moves on to its next channel rather than risk a second SMS.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from notifiers.base import NotifyResult, Outcome
from suppliers.base import SubmitErrorClass, SubmitRequest, SupplierAdapter
from suppliers.templates import Template

log = logging.getLogger(__name__)

CHANNEL = "sms"
# A submit refused with one of these was not sent and may well go through another supplier.
TRY_NEXT = frozenset(
    {
        SubmitErrorClass.RETRIABLE,
        SubmitErrorClass.THROTTLED,
        SubmitErrorClass.SUPPLIER_WIDE,
    }
)
# The error code of a recipient whose submit went unanswered: it may have been sent.
UNCONFIRMED: Final = "unconfirmed"
# Recipients taken (or maybe taken) remembered, newest last: far more than one outage's alerts.
REMEMBERED: Final = 10_000


@dataclass(frozen=True)
class AlertTemplate:
    """The alert template as the send tier approved it, rendered as the send API renders it."""

    template: Template  # e.g. "[{severity}] {summary}"
    sign_name: str  # the alerts tenant's approved signature, without 【】
    codes_by_supplier: Mapping[str, str]  # supplier → its approved template code

    def content(self, params: Mapping[str, str]) -> str:
        return f"【{self.sign_name}】{self.template.render(params)}"


@dataclass(frozen=True)
class Recipient:
    phone: str  # E.164
    carrier: str


class DirectSms:
    """Submits alert SMS through supplier adapters (closed by `aclose`)."""

    def __init__(self, adapters: Mapping[str, SupplierAdapter], template: AlertTemplate) -> None:
        self._adapters = dict(adapters)
        self._template = template
        # Message id → the answer for a recipient a supplier took, or may have taken.
        self._taken: OrderedDict[str, NotifyResult] = OrderedDict()

    @property
    def suppliers(self) -> tuple[str, ...]:
        return tuple(self._adapters)

    async def send(
        self,
        recipients: Sequence[Recipient],
        params: Mapping[str, str],
        order_for: Mapping[str, Sequence[str]],
        key: str,
    ) -> NotifyResult:
        """One message per recipient through the first supplier of `order_for[carrier]` that
        takes it; delivered when at least one recipient's message was accepted.

        `key` names the request (the same on its retries): a recipient taken under it before
        is not sent to again, and gets the answer it got then.
        """
        accepted: list[str] = []
        refused: list[NotifyResult] = []
        for recipient in recipients:
            message_id = _message_id(key, recipient.phone)
            result = self._taken.get(message_id)
            if result is None:
                order = order_for.get(recipient.carrier, ())
                result = await self._send_one(message_id, recipient, params, order)
                if result.outcome is Outcome.DELIVERED or result.error_code == UNCONFIRMED:
                    self._remember(message_id, result)
            if result.outcome is Outcome.DELIVERED:
                accepted.append(result.reference or "")
            else:
                refused.append(result)
        return _summary(accepted, refused, len(recipients))

    def _remember(self, message_id: str, result: NotifyResult) -> None:
        self._taken[message_id] = result
        if len(self._taken) > REMEMBERED:
            self._taken.popitem(last=False)

    async def _send_one(
        self,
        message_id: str,
        recipient: Recipient,
        params: Mapping[str, str],
        order: Sequence[str],
    ) -> NotifyResult:
        usable = [name for name in order if name in self._adapters]
        if not usable:
            return NotifyResult(
                Outcome.FAILED,
                CHANNEL,
                f"no usable supplier for {recipient.carrier}",
                "no_supplier",
            )
        last = NotifyResult(Outcome.FAILED, CHANNEL, "not tried", "no_supplier")
        for name in usable:
            request = self._request(message_id, name, recipient, params)
            outcome = await self._adapters[name].submit(request)
            if outcome.accepted:
                log.info(
                    "sms.direct_accepted supplier=%s phone=%s id=%s",
                    name,
                    recipient.phone,
                    outcome.supplier_message_id,
                )
                reference = f"{name}:{outcome.supplier_message_id or ''}"
                return NotifyResult(Outcome.DELIVERED, CHANNEL, f"via {name}", reference=reference)
            if outcome.error_class is SubmitErrorClass.TIMEOUT:
                log.warning(
                    "event=sms_direct_unconfirmed supplier=%s phone=%s message_id=%s",
                    name,
                    recipient.phone,
                    message_id,
                )
                detail = f"{name}: no answer in time; it may have been sent"
                return NotifyResult(Outcome.FAILED, CHANNEL, detail, UNCONFIRMED)
            retriable = outcome.error_class in TRY_NEXT
            last = NotifyResult(
                Outcome.RETRY if retriable else Outcome.FAILED,
                CHANNEL,
                f"{name}: {outcome.error_message or outcome.error_code}",
                outcome.error_code,
                outcome.retry_after_s,
            )
            log.warning(
                "sms.direct_refused supplier=%s phone=%s code=%s class=%s",
                name,
                recipient.phone,
                outcome.error_code,
                outcome.error_class,
            )
            if not retriable:
                break
        return last

    def _request(
        self, message_id: str, supplier: str, recipient: Recipient, params: Mapping[str, str]
    ) -> SubmitRequest:
        template = self._template
        return SubmitRequest(
            message_id=message_id,
            phone=recipient.phone,
            carrier=recipient.carrier,
            message_class="notification",
            sign_name=template.sign_name,
            template_id=template.codes_by_supplier.get(supplier, template.template.id),
            template_params=dict(params),
            content=template.content(params),
        )

    async def aclose(self) -> None:
        for adapter in self._adapters.values():
            await adapter.aclose()


def _message_id(key: str, phone: str) -> str:
    """The recipient's message id under request `key`: the same on every retry."""
    return "alert-" + hashlib.sha256(f"{key}\0{phone}".encode()).hexdigest()[:24]


def _summary(accepted: list[str], refused: list[NotifyResult], total: int) -> NotifyResult:
    """Delivered if anyone's was accepted; else retry if a retry can help (recipients taken
    are not sent again); else the first unconfirmed or refused answer, final."""
    detail = f"direct: accepted {len(accepted)} of {total}"
    if accepted:
        return NotifyResult(Outcome.DELIVERED, CHANNEL, detail, reference=",".join(accepted))
    retriable = [r for r in refused if r.outcome is Outcome.RETRY]
    unconfirmed = [r for r in refused if r.error_code == UNCONFIRMED]
    first = (retriable or unconfirmed or refused)[0]
    return NotifyResult(first.outcome, CHANNEL, f"{detail}; {first.detail}", first.error_code)
