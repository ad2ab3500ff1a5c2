"""Alert SMS straight through a supplier's adapter, for when the send tier's API is down.

The send tier is the thing most likely to be failing when SMS alerts matter most, so the alert
path keeps its own adapters (the send tier's dialects and credentials) and submits one message
per recipient, trying the recipient's suppliers in the order the caller ranks them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from notifiers.base import NotifyResult, Outcome
from sendtier.api.templates import Template
from sendtier.suppliers.base import SubmitErrorClass, SubmitRequest, SupplierAdapter

log = logging.getLogger(__name__)

CHANNEL = "sms"
# A submit that failed with one of these may well go through another supplier.
TRY_NEXT = frozenset(
    {
        SubmitErrorClass.RETRIABLE,
        SubmitErrorClass.TIMEOUT,
        SubmitErrorClass.THROTTLED,
        SubmitErrorClass.SUPPLIER_WIDE,
    }
)


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

    @property
    def suppliers(self) -> tuple[str, ...]:
        return tuple(self._adapters)

    async def send(
        self,
        recipients: Sequence[Recipient],
        params: Mapping[str, str],
        order_for: Mapping[str, Sequence[str]],
    ) -> NotifyResult:
        """One message per recipient through the first supplier of `order_for[carrier]` that
        takes it; delivered when at least one recipient's message was accepted."""
        accepted: list[str] = []
        refused: list[NotifyResult] = []
        for recipient in recipients:
            result = await self._send_one(recipient, params, order_for.get(recipient.carrier, ()))
            if result.outcome is Outcome.DELIVERED:
                accepted.append(result.reference or "")
            else:
                refused.append(result)
        return _summary(accepted, refused, len(recipients))

    async def _send_one(
        self, recipient: Recipient, params: Mapping[str, str], order: Sequence[str]
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
            outcome = await self._adapters[name].submit(self._request(name, recipient, params))
            if outcome.accepted:
                log.info(
                    "sms.direct_accepted supplier=%s phone=%s id=%s",
                    name,
                    recipient.phone,
                    outcome.supplier_message_id,
                )
                reference = f"{name}:{outcome.supplier_message_id or ''}"
                return NotifyResult(Outcome.DELIVERED, CHANNEL, f"via {name}", reference=reference)
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
        self, supplier: str, recipient: Recipient, params: Mapping[str, str]
    ) -> SubmitRequest:
        template = self._template
        return SubmitRequest(
            message_id=f"alert-{uuid.uuid4().hex[:20]}",
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


def _summary(accepted: list[str], refused: list[NotifyResult], total: int) -> NotifyResult:
    detail = f"direct: accepted {len(accepted)} of {total}"
    if accepted:
        return NotifyResult(Outcome.DELIVERED, CHANNEL, detail, reference=",".join(accepted))
    retriable = [r for r in refused if r.outcome is Outcome.RETRY]
    first = (retriable or refused)[0]
    return NotifyResult(first.outcome, CHANNEL, f"{detail}; {first.detail}", first.error_code)
