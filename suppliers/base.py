"""What every supplier dialect provides: a submit adapter and a receipt-callback reader."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from smsplatform.contracts import MessageClass, ReceiptStatus


class SubmitErrorClass(StrEnum):
    """How dispatch treats a failed submit (SUPPLIERS.md §7.2)."""

    RETRIABLE = "retriable"  # retry once on the next supplier of the route
    TIMEOUT = "timeout"  # no answer: retry elsewhere only for OTP (submits are not idempotent)
    THROTTLED = "throttled"  # back off this supplier only (honour retry_after_s)
    RECIPIENT_LIMIT = "recipient_limit"  # final REJECTED for the message; never dodged elsewhere
    PERMANENT = "permanent"  # final for the message (bad number, opt-out, content)
    SUPPLIER_WIDE = "supplier_wide"  # balance, account, signature: skip the supplier, tell the CP
    DEFERRED = "deferred"  # e.g. marketing outside allowed hours: requeue later


@dataclass(frozen=True)
class SubmitRequest:
    """One message to one recipient, as an adapter needs it."""

    message_id: str
    phone: str  # E.164, e.g. +8613800000001
    carrier: str
    message_class: MessageClass
    sign_name: str  # approved signature, without 【】
    template_id: str  # the supplier's template code for this template
    template_params: Mapping[str, str]
    content: str  # full rendered text with 【signature】, for dialects that take text
    # Where the supplier should push this message's receipt, for dialects that take it per submit.
    callback_url: str | None = None


@dataclass(frozen=True)
class SubmitOutcome:
    """What the supplier answered to one submit."""

    accepted: bool
    latency_ms: float
    supplier_message_id: str | None = None
    error_code: str | None = None  # the supplier's own code, as it sent it
    error_class: SubmitErrorClass | None = None
    error_message: str | None = None
    retry_after_s: float | None = None
    segments: int | None = None


@dataclass(frozen=True)
class Balance:
    """A supplier account's remaining balance, in the supplier's unit."""

    amount: float
    unit: str  # e.g. "CNY", "USD", "messages"
    at: datetime


class SupplierAdapter(Protocol):
    """The client side of one configured supplier account."""

    @property
    def name(self) -> str:
        """The configured supplier name (e.g. `aliyun-main`), used in routing and metrics."""
        ...

    @property
    def dialect(self) -> str:
        """One of `aliyun`, `tencent`, `twilio`, `cmpp`."""
        ...

    async def submit(self, request: SubmitRequest) -> SubmitOutcome:
        """Send one message; never raises for supplier or network errors: they are outcomes."""
        ...

    async def balance(self) -> Balance | None:
        """The account balance from the dialect's balance API, or None if it has none."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class BatchSubmitAdapter(SupplierAdapter, Protocol):
    """An adapter whose supplier takes several recipients in one call (SUPPLIERS.md §1, §2, §4).

    Requests with the same `batch_key` may share a call: the key holds everything the call
    sends once for all its recipients (template, signature, shared parameters or text).
    """

    @property
    def max_batch(self) -> int:
        """Most recipients the supplier takes in one call."""
        ...

    def batch_key(self, request: SubmitRequest) -> Hashable | None:
        """What requests must share to go in one call; None: this one is sent alone."""
        ...

    async def submit_batch(
        self, requests: Sequence[SubmitRequest]
    ) -> list[SubmitOutcome] | SubmitOutcome:
        """Send the requests (same key, distinct phones) in one call.

        The call's per-recipient outcomes, in request order; or one outcome when the whole
        call failed (network, throttle, account, or a call-wide refusal). Never raises for
        supplier or network errors.
        """
        ...


@dataclass(frozen=True)
class SupplierReport:
    """One delivery report from a supplier callback, normalized (SUPPLIERS.md §7.1)."""

    supplier_message_id: str
    # None while the report is not final (Twilio `sent`, SMPP `ENROUTE`): counted, not published.
    status: ReceiptStatus | None
    raw_status: str
    error_code: str | None
    reported_at: datetime | None
    phone: str | None = None
    # Our message id when the dialect echoes it (Alibaba out_id, CMPP client_msgid, Twilio URL).
    message_id: str | None = None
    # The recipient's own key where one supplier id covers a multi-number send (Alibaba:
    # biz_id + phone_number); it names the submit of a batched recipient.
    recipient_id: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CallbackReply:
    """What the receipt endpoint answers, in the dialect's expected form."""

    status_code: int
    body: bytes
    content_type: str


class CallbackReader(Protocol):
    """The receiving side of a dialect's receipt push: verify, parse, and answer as expected."""

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        """True when the push carries a valid signature or shared secret, if the dialect has one."""
        ...

    def parse(self, url: str, headers: Mapping[str, str], body: bytes) -> list[SupplierReport]:
        """The reports in one push; raises ValueError naming the field for a malformed body."""
        ...

    def reply_ok(self) -> CallbackReply: ...

    def reply_rejected(self, reason: str) -> CallbackReply:
        """Answer to a push we refuse (bad signature or body), in the dialect's error form."""
        ...

    def reply_retry_later(self) -> CallbackReply:
        """Answer that makes the supplier push again later (we could not take it now)."""
        ...
