"""Twilio Programmable Messaging: the Messages.json adapter and the status-callback reader."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from smsplatform.clock import Clock
from smsplatform.contracts import ReceiptStatus
from suppliers.base import (
    Balance,
    CallbackReply,
    SubmitErrorClass,
    SubmitOutcome,
    SubmitRequest,
    SupplierReport,
)
from suppliers.callbacks import (
    compact_time,
    form_pairs,
    header,
    query_params,
    required,
    text_reply,
)
from suppliers.settings import SupplierSettings, TwilioAccount
from suppliers.signing import same_signature, twilio_signature_valid
from suppliers.submit_codes import CodeTable
from suppliers.transport import BalanceUnavailable, SupplierHttp

API_VERSION: Final = "2010-04-01"
# Twilio echoes none of our ids, so our message id rides in the StatusCallback query (§6, C).
MESSAGE_ID_PARAM: Final = "mid"
SIGNATURE_HEADER: Final = "X-Twilio-Signature"

_R = SubmitErrorClass
# Every code of SUPPLIERS.md §3 that can answer a create, classed per §7.2 (5xx by status).
SUBMIT_CODES: Final = CodeTable(
    exact={
        "20429": _R.THROTTLED,
        "30001": _R.THROTTLED,
        "20003": _R.SUPPLIER_WIDE,
        "30002": _R.SUPPLIER_WIDE,
        "21408": _R.SUPPLIER_WIDE,
        # `From` is not a sender of this account: like an unapproved signature, it fails every
        # message sent from it.
        "21606": _R.SUPPLIER_WIDE,
        "21211": _R.PERMANENT,
        "21614": _R.PERMANENT,
        "21610": _R.PERMANENT,
    }
)

_PENDING: Final = frozenset({"queued", "accepted", "scheduled", "sending", "sent"})
_DELIVERED: Final = frozenset({"delivered", "read"})
_NOT_DELIVERED: Final = frozenset({"undelivered", "failed", "canceled", "partially_delivered"})
# Filtered as spam by the carrier, or the recipient opted out: refused, not failed (§7.1).
_REJECTED_ERRORS: Final = frozenset({"30007", "21610"})


def with_message_id(callback_url: str, message_id: str) -> str:
    """`callback_url` with `mid=<our message id>` in its query (replacing any `mid` it had)."""
    parts = urlsplit(callback_url)
    kept = [
        pair
        for pair in parse_qsl(parts.query, keep_blank_values=True)
        if pair[0] != MESSAGE_ID_PARAM
    ]
    query = [*kept, (MESSAGE_ID_PARAM, message_id)]
    return urlunsplit(parts._replace(query=urlencode(query)))


class TwilioAdapter:
    """Submits through one Twilio account: form POSTs with HTTP Basic auth."""

    dialect: Final = "twilio"

    def __init__(self, settings: SupplierSettings, account: TwilioAccount, clock: Clock) -> None:
        if account.messaging_service_sid is None and account.from_number is None:
            raise ValueError(
                f"suppliers[{settings.name}].account: from_number or messaging_service_sid "
                "is required"
            )
        self._name = settings.name
        self._account = account
        self._clock = clock
        self._base_path = f"/{API_VERSION}/Accounts/{account.account_sid}"
        basic_auth = httpx.BasicAuth(account.account_sid, account.auth_token.get_secret_value())
        self._http = SupplierHttp.for_supplier(settings, clock, auth=basic_auth)

    @property
    def name(self) -> str:
        return self._name

    def message_form(self, request: SubmitRequest) -> dict[str, str]:
        form = {"To": request.phone, "Body": request.content}
        # A Messaging Service picks the sender from its pool; otherwise our own number sends.
        if self._account.messaging_service_sid is not None:
            form["MessagingServiceSid"] = self._account.messaging_service_sid
        elif self._account.from_number is not None:
            form["From"] = self._account.from_number
        if request.callback_url:
            form["StatusCallback"] = with_message_id(request.callback_url, request.message_id)
        return form

    async def submit(self, request: SubmitRequest) -> SubmitOutcome:
        http_request = self._http.build_request(
            "POST", f"{self._base_path}/Messages.json", data=self.message_form(request)
        )
        answer = await self._http.exchange(http_request)
        if isinstance(answer, SubmitOutcome):
            return answer
        body = answer.json_object()
        if body is None:
            return answer.unreadable()
        if answer.response.is_success:
            sid = body.get("sid")
            if not isinstance(sid, str) or not sid:
                return answer.unreadable()
            return SubmitOutcome(
                accepted=True,
                latency_ms=answer.latency_ms,
                supplier_message_id=sid,
                segments=_positive_int(body.get("num_segments")),
            )
        code = body.get("code")
        if not isinstance(code, int | str) or isinstance(code, bool):
            return answer.unreadable()
        message = body.get("message")
        return answer.failure(
            str(code),
            SUBMIT_CODES.classify(str(code), answer.response.status_code),
            str(message) if message is not None else None,
        )

    async def balance(self) -> Balance | None:
        request = self._http.build_request("GET", f"{self._base_path}/Balance.json")
        body = await self._http.fetch_json(request)
        balance, currency = body.get("balance"), body.get("currency")
        try:
            amount = float(str(balance))
        except ValueError:
            raise BalanceUnavailable(f"balance: not a number: {balance!r}") from None
        return Balance(amount=amount, unit=str(currency or "USD"), at=self._clock.now())

    async def aclose(self) -> None:
        await self._http.aclose()


def _positive_int(value: object) -> int | None:
    """Twilio's `num_segments` is a string, "0" until a Messaging Service has picked a sender."""
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number > 0 else None


class TwilioCallbackReader:
    """Reads status callbacks: form POSTs signed with X-Twilio-Signature, answered 2xx."""

    def __init__(self, auth_token: str) -> None:
        self._auth_token = auth_token

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        signature = header(headers, SIGNATURE_HEADER)
        if not signature:
            return False
        body_hash = query_params(url).get("bodySHA256")
        if body_hash is not None:
            # JSON-bodied webhooks sign the URL alone; the body is bound by its hash in the URL.
            expected_hash = hashlib.sha256(body).hexdigest()
            return same_signature(expected_hash, body_hash.lower()) and (
                twilio_signature_valid(self._auth_token, url, [], signature)
            )
        try:
            params = form_pairs(body)
        except ValueError:
            return False
        # Signed over whatever parameters arrived: Twilio adds new ones without notice.
        return twilio_signature_valid(self._auth_token, url, params, signature)

    def parse(self, url: str, headers: Mapping[str, str], body: bytes) -> list[SupplierReport]:
        fields = dict(form_pairs(body))
        sid = required(fields, "MessageSid")
        raw_status = fields.get("MessageStatus") or required(fields, "SmsStatus")
        error_code = fields.get("ErrorCode") or None
        return [
            SupplierReport(
                supplier_message_id=sid,
                status=_status(raw_status, error_code),
                raw_status=raw_status,
                error_code=error_code,
                # The carrier's done date, without a zone: Twilio reports times in UTC.
                reported_at=compact_time(fields.get("RawDlrDoneDate"), "RawDlrDoneDate", tz=UTC),
                phone=fields.get("To") or None,
                message_id=query_params(url).get(MESSAGE_ID_PARAM) or None,
            )
        ]

    def reply_ok(self) -> CallbackReply:
        return text_reply(200, "")

    def reply_rejected(self, reason: str) -> CallbackReply:
        return text_reply(400, reason)

    def reply_retry_later(self) -> CallbackReply:
        return text_reply(503, "retry later")


def _status(message_status: str, error_code: str | None) -> ReceiptStatus | None:
    if message_status in _PENDING:
        return None
    if message_status in _DELIVERED:
        return "DELIVERED"
    if message_status in _NOT_DELIVERED:
        return "REJECTED" if error_code in _REJECTED_ERRORS else "FAILED"
    raise ValueError(f"MessageStatus: not an outbound message status: {message_status!r}")
