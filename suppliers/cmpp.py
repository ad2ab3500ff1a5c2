"""CMPP-style HTTP supplier (SUPPLIERS.md §4, our convention): submit adapter and receipt reader."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Annotated, Final

import msgspec

from smsplatform.clock import Clock
from suppliers.base import (
    Balance,
    CallbackReply,
    SubmitErrorClass,
    SubmitOutcome,
    SubmitRequest,
    SupplierReport,
)
from suppliers.callbacks import (
    CHINA_TZ,
    compact_time,
    decode_json_array,
    form_pairs,
    header,
    text_reply,
)
from suppliers.receipt_codes import smpp_stat_status
from suppliers.settings import CmppAccount, SupplierSettings
from suppliers.signing import (
    cmpp_batch_push_signature_valid,
    cmpp_push_signature_valid,
    cmpp_submit_sign,
)
from suppliers.submit_codes import CodeTable
from suppliers.transport import Answer, BalanceUnavailable, SupplierHttp

SIGNATURE_HEADER: Final = "X-Sim-Signature"
# Numbers in one submit's `mobile` list (SUPPLIERS.md §4).
MAX_NUMBERS: Final = 100

_R = SubmitErrorClass
# CMPP_SUBMIT_RESP results (1-9) and our extra codes (10-14), classed per §7.2.
SUBMIT_CODES: Final = CodeTable(
    exact={
        # 1 structure, 2 command, 4 length, 5 fee code, 6 too long, 7 service code: our request
        # is wrong, and would be wrong at any supplier.
        "1": _R.PERMANENT,
        "2": _R.PERMANENT,
        "4": _R.PERMANENT,
        "5": _R.PERMANENT,
        "6": _R.PERMANENT,
        "7": _R.PERMANENT,
        # A duplicate sequence number is a one-off: the next submit carries a new one.
        "3": _R.RETRIABLE,
        "8": _R.THROTTLED,
        "9": _R.RETRIABLE,
        "10": _R.SUPPLIER_WIDE,  # balance
        "11": _R.SUPPLIER_WIDE,  # account suspended
        "12": _R.SUPPLIER_WIDE,  # signature not registered
        "13": _R.PERMANENT,  # number blacklisted
        "14": _R.PERMANENT,  # bad number
        "AUTH": _R.SUPPLIER_WIDE,  # HTTP 401: bad sign or clock skew
        "MILIMIT": _R.RECIPIENT_LIMIT,
        "CTLIMIT": _R.RECIPIENT_LIMIT,
    },
    prefixes=(("LIMIT", _R.RECIPIENT_LIMIT), ("BEYOND", _R.RECIPIENT_LIMIT)),
)


def _code_text(value: object) -> str | None:
    """A `code`/`result` as text: the simulator sends numbers, and `"AUTH"` for a 401."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return str(value)


class CmppAdapter:
    """Submits through one CMPP-style HTTP account: signed form POSTs to `/cmpp/submit`."""

    dialect: Final = "cmpp"

    def __init__(self, settings: SupplierSettings, account: CmppAccount, clock: Clock) -> None:
        self._name = settings.name
        self._account = account
        self._secret = account.secret.get_secret_value()
        self._clock = clock
        self._http = SupplierHttp.for_supplier(settings, clock)

    @property
    def name(self) -> str:
        return self._name

    def _auth_fields(self) -> dict[str, str]:
        ts = str(int(self._clock.now().timestamp()))
        sign = cmpp_submit_sign(self._secret, self._account.account, ts)
        return {"account": self._account.account, "ts": ts, "sign": sign}

    def submit_form(self, request: SubmitRequest) -> dict[str, str]:
        return {
            **self._auth_fields(),
            "mobile": request.phone,
            "content": request.content,
            "client_msgid": request.message_id,
        }

    def batch_form(self, requests: Sequence[SubmitRequest]) -> dict[str, str]:
        """One submit of the shared text to every number; no `client_msgid`, which is per
        call: receipts then name each number by its own msgid."""
        return {
            **self._auth_fields(),
            "mobile": ",".join(request.phone for request in requests),
            "content": requests[0].content,
        }

    @property
    def max_batch(self) -> int:
        return MAX_NUMBERS

    def batch_key(self, request: SubmitRequest) -> Hashable:
        return request.content  # the one thing a call sends once for all its numbers

    async def submit(self, request: SubmitRequest) -> SubmitOutcome:
        outcomes = await self._send(self.submit_form(request), [request.phone])
        return outcomes if isinstance(outcomes, SubmitOutcome) else outcomes[0]

    async def submit_batch(
        self, requests: Sequence[SubmitRequest]
    ) -> list[SubmitOutcome] | SubmitOutcome:
        return await self._send(self.batch_form(requests), [request.phone for request in requests])

    async def _send(
        self, form: dict[str, str], mobiles: list[str]
    ) -> list[SubmitOutcome] | SubmitOutcome:
        """One outcome per number from `results`, or the whole call's failure."""
        http_request = self._http.build_request("POST", "/cmpp/submit", data=form)
        answer = await self._http.exchange(http_request)
        if isinstance(answer, SubmitOutcome):
            return answer
        body = answer.json_object()
        code = _code_text(body.get("code")) if body is not None else None
        if body is None or code is None:
            return answer.unreadable()
        if code != "0":
            return _failure(answer, code, body.get("msg"))
        results = body.get("results")
        if not isinstance(results, list) or not results:
            return answer.unreadable()
        by_mobile = {result.get("mobile"): result for result in results if isinstance(result, dict)}
        if len(mobiles) == 1 and len(results) == 1 and isinstance(results[0], dict):
            by_mobile = {mobiles[0]: results[0]}  # one number: whatever form it is echoed in
        message = body.get("msg")
        return [_result_outcome(answer, by_mobile.get(mobile), message) for mobile in mobiles]

    async def balance(self) -> Balance | None:
        """`GET /cmpp/balance`: units left, or None for an account without a prepaid balance."""
        request = self._http.build_request("GET", "/cmpp/balance", params=self._auth_fields())
        body = await self._http.fetch_json(request)
        code, amount = _code_text(body.get("code")), body.get("balance")
        if code != "0":
            raise BalanceUnavailable(f"code {code}: {body.get('msg')}")
        if amount is None:
            return None
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise BalanceUnavailable(f"balance: not a number: {amount!r}")
        return Balance(float(amount), str(body.get("unit") or "messages"), self._clock.now())

    async def aclose(self) -> None:
        await self._http.aclose()


def _result_outcome(
    answer: Answer, result: Mapping[str, object] | None, message: object
) -> SubmitOutcome:
    """One number's result: 0 is taken, any other CMPP_SUBMIT_RESP code fails it alone."""
    result_code = _code_text(result.get("result")) if result is not None else None
    if result is None or result_code is None:
        return answer.unreadable()
    if result_code != "0":
        return _failure(answer, result_code, message)
    msgid, segments = result.get("msgid"), result.get("segments")
    return SubmitOutcome(
        accepted=True,
        latency_ms=answer.latency_ms,
        supplier_message_id=str(msgid) if msgid else None,
        segments=segments if isinstance(segments, int) and segments > 0 else None,
    )


def _failure(answer: Answer, code: str, message: object) -> SubmitOutcome:
    return answer.failure(
        code,
        SUBMIT_CODES.classify(code, answer.response.status_code),
        str(message) if message is not None else None,
    )


class _CmppReport(msgspec.Struct):
    """One receipt push (a form, or one element of a `batch=1` JSON array)."""

    msgid: Annotated[str, msgspec.Meta(min_length=1)]
    stat: Annotated[str, msgspec.Meta(min_length=1)]
    mobile: str | None = None
    err: str | None = None
    submit_date: str | None = None
    done_date: str | None = None
    client_msgid: str | None = None


class CmppCallbackReader:
    """Reads receipt pushes signed with X-Sim-Signature; answers `OK`."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        signature = header(headers, SIGNATURE_HEADER)
        if not signature:
            return False
        if _is_batch(body):
            return cmpp_batch_push_signature_valid(self._secret, body, signature)
        try:
            fields = dict(form_pairs(body))
        except ValueError:
            return False
        return cmpp_push_signature_valid(self._secret, fields, signature)

    def parse(self, url: str, headers: Mapping[str, str], body: bytes) -> list[SupplierReport]:
        if _is_batch(body):
            reports = decode_json_array(body, _CmppReport)
            return [_normalize(report, f"[{index}].") for index, report in enumerate(reports)]
        try:
            report = msgspec.convert(dict(form_pairs(body)), _CmppReport)
        except msgspec.ValidationError as exc:
            raise ValueError(f"body: {exc}") from exc
        return [_normalize(report, "")]

    def reply_ok(self) -> CallbackReply:
        return text_reply(200, "OK")

    def reply_rejected(self, reason: str) -> CallbackReply:
        return text_reply(400, reason)

    def reply_retry_later(self) -> CallbackReply:
        # Anything but 200 `OK` is re-pushed after 60, 300 and 600 s.
        return text_reply(503, "RETRY")


def _is_batch(body: bytes) -> bool:
    return body.lstrip()[:1] == b"["


def _normalize(report: _CmppReport, where: str) -> SupplierReport:
    status = smpp_stat_status(report.stat)
    return SupplierReport(
        supplier_message_id=report.msgid,
        status=status,
        raw_status=report.stat,
        error_code=report.stat if status not in (None, "DELIVERED") else None,
        reported_at=compact_time(report.done_date, f"{where}done_date", CHINA_TZ),
        phone=report.mobile,
        message_id=report.client_msgid or None,
        extra={"err": report.err} if report.err else {},
    )
