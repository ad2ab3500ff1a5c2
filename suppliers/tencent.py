"""Tencent Cloud SMS (2021-01-11): the TC3-signed SendSms adapter and the status-push reader."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Annotated, Final

import httpx
import msgspec
import orjson

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
    TokenCheck,
    decode_json_array,
    json_reply,
    local_time,
)
from suppliers.receipt_codes import failed_report_status
from suppliers.settings import SupplierSettings, TencentAccount
from suppliers.signing import tencent_tc3_authorization
from suppliers.submit_codes import CodeTable
from suppliers.transport import Answer, BalanceUnavailable, SupplierHttp

API_VERSION: Final = "2021-01-11"
SERVICE: Final = "sms"
CONTENT_TYPE: Final = "application/json; charset=utf-8"
# Packages per SmsPackagesStatistics page; more pages are fetched while pages come back full.
_PACKAGE_PAGE: Final = 100
# PhoneNumberSet takes at most 200 numbers, all mainland or all international (SUPPLIERS.md §2).
MAX_NUMBERS: Final = 200

_R = SubmitErrorClass
# Every code of SUPPLIERS.md §2 classed per §7.2; the `*` families of the table as prefixes.
SUBMIT_CODES: Final = CodeTable(
    exact={
        "LimitExceeded.DeliveryFrequencyLimit": _R.RECIPIENT_LIMIT,
        "LimitExceeded.AppDailyLimit": _R.SUPPLIER_WIDE,
        "LimitExceeded.DailyLimit": _R.SUPPLIER_WIDE,
        "FailedOperation.InsufficientBalanceInSmsPackage": _R.SUPPLIER_WIDE,
        "UnauthorizedOperation.SerivceSuspendDueToArrears": _R.SUPPLIER_WIDE,
        "UnauthorizedOperation.SdkAppIdIsDisabled": _R.SUPPLIER_WIDE,
        "UnauthorizedOperation.RequestIpNotInWhitelist": _R.SUPPLIER_WIDE,
        "UnauthorizedOperation.RequestPermissionDeny": _R.SUPPLIER_WIDE,
        "FailedOperation.SignatureIncorrectOrUnapproved": _R.SUPPLIER_WIDE,
        "FailedOperation.TemplateIncorrectOrUnapproved": _R.SUPPLIER_WIDE,
        "InvalidParameterValue.IncorrectPhoneNumber": _R.PERMANENT,
        "FailedOperation.PhoneNumberInBlacklist": _R.PERMANENT,
        "FailedOperation.PhoneNumberOnBlacklist": _R.PERMANENT,
        "FailedOperation.ContainSensitiveWord": _R.PERMANENT,
        "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": _R.PERMANENT,
        "InvalidParameterValue.TemplateParameterFormatError": _R.PERMANENT,
        "InvalidParameterValue.TemplateParameterLengthLimit": _R.PERMANENT,
        "InvalidParameterValue.ContentLengthLimit": _R.PERMANENT,
        "FailedOperation.MarketingSendTimeConstraint": _R.DEFERRED,
    },
    prefixes=(
        # .PhoneNumberDailyLimit, .PhoneNumberOneHourLimit, .PhoneNumberThirtySecondLimit, ...
        ("LimitExceeded.PhoneNumber", _R.RECIPIENT_LIMIT),
        # RequestLimitExceeded, .GlobalRegionUinLimitExceeded, .IPLimitExceeded
        ("RequestLimitExceeded", _R.THROTTLED),
        ("AuthFailure", _R.SUPPLIER_WIDE),
        ("InternalError", _R.RETRIABLE),
    ),
)


class TencentAdapter:
    """Submits through one Tencent SMS app with TC3-HMAC-SHA256-signed JSON POSTs."""

    dialect: Final = "tencent"

    def __init__(self, settings: SupplierSettings, account: TencentAccount, clock: Clock) -> None:
        self._name = settings.name
        self._account = account
        self._secret_key = account.secret_key.get_secret_value()
        self._clock = clock
        self._http = SupplierHttp.for_supplier(settings, clock)

    @property
    def name(self) -> str:
        return self._name

    def signed_request(self, action: str, payload: Mapping[str, object]) -> httpx.Request:
        """A `POST /` of `action` with the TC3 headers, signed over the Host it will carry."""
        body = orjson.dumps(payload)
        timestamp = int(self._clock.now().timestamp())
        request = self._http.build_request(
            "POST",
            "/",
            content=body,
            headers={
                "Content-Type": CONTENT_TYPE,
                "X-TC-Action": action,
                "X-TC-Version": API_VERSION,
                "X-TC-Region": self._account.region,
                "X-TC-Timestamp": str(timestamp),
            },
        )
        request.headers["Authorization"] = tencent_tc3_authorization(
            self._account.secret_id,
            self._secret_key,
            SERVICE,
            request.headers["Host"],
            timestamp,
            body,
            CONTENT_TYPE,
        )
        return request

    def send_sms_payload(self, request: SubmitRequest) -> dict[str, object]:
        payload = self._shared_payload(request, [request.phone])
        # Echoed in the pull API: our id, so a pulled status finds its message.
        payload["SessionContext"] = request.message_id
        return payload

    def batch_payload(self, requests: Sequence[SubmitRequest]) -> dict[str, object]:
        """One SendSms for every request: they share template, signature and parameters.

        No SessionContext: there is one per call, and pushed statuses name each number by its
        own SerialNo anyway.
        """
        return self._shared_payload(requests[0], [request.phone for request in requests])

    def _shared_payload(self, request: SubmitRequest, phones: list[str]) -> dict[str, object]:
        payload: dict[str, object] = {
            "PhoneNumberSet": phones,
            "SmsSdkAppId": self._account.sdk_app_id,
            "TemplateId": request.template_id,
            "SignName": request.sign_name,
        }
        if request.template_params:
            # Positional {1}, {2}, ...: the parameters in the order the template gave their keys.
            payload["TemplateParamSet"] = list(request.template_params.values())
        return payload

    @property
    def max_batch(self) -> int:
        return MAX_NUMBERS

    def batch_key(self, request: SubmitRequest) -> Hashable:
        """Template, signature and parameter values are per call; a call is one region kind."""
        return (
            request.template_id,
            request.sign_name,
            tuple(request.template_params.items()),
            request.phone.startswith("+86"),
        )

    async def submit(self, request: SubmitRequest) -> SubmitOutcome:
        outcomes = await self._send(self.send_sms_payload(request), [request.phone])
        return outcomes if isinstance(outcomes, SubmitOutcome) else outcomes[0]

    async def submit_batch(
        self, requests: Sequence[SubmitRequest]
    ) -> list[SubmitOutcome] | SubmitOutcome:
        return await self._send(
            self.batch_payload(requests), [request.phone for request in requests]
        )

    async def _send(
        self, payload: Mapping[str, object], phones: list[str]
    ) -> list[SubmitOutcome] | SubmitOutcome:
        """One outcome per phone from the SendStatusSet, or the whole call's failure."""
        answer = await self._http.exchange(self.signed_request("SendSms", payload))
        if isinstance(answer, SubmitOutcome):
            return answer
        body = answer.json_object()
        response = body.get("Response") if body is not None else None
        if not isinstance(response, dict):
            return answer.unreadable()
        error = response.get("Error")
        if isinstance(error, dict):
            return _failure(answer, error)
        statuses = response.get("SendStatusSet")
        if not isinstance(statuses, list) or not statuses:
            return answer.unreadable()
        by_phone = {
            status.get("PhoneNumber"): status for status in statuses if isinstance(status, dict)
        }
        if len(phones) == 1 and len(statuses) == 1 and isinstance(statuses[0], dict):
            by_phone = {phones[0]: statuses[0]}  # one number: whatever form it is echoed in
        return [_status_outcome(answer, by_phone.get(phone)) for phone in phones]

    async def balance(self) -> Balance | None:
        """Messages left over all SMS packages: Σ (AmountOfPackage − CurrentUsage)."""
        remaining = 0
        offset = 0
        while True:
            payload = {
                "SmsSdkAppId": self._account.sdk_app_id,
                "Limit": _PACKAGE_PAGE,
                "Offset": offset,
                # yyyymmddhh in Beijing time, by package creation: every package ever bought.
                "BeginTime": "2000010100",
                "EndTime": self._clock.now().astimezone(CHINA_TZ).strftime("%Y%m%d%H"),
            }
            body = await self._http.fetch_json(
                self.signed_request("SmsPackagesStatistics", payload)
            )
            packages = _package_set(body)
            for package in packages:
                amount, used = package.get("AmountOfPackage"), package.get("CurrentUsage")
                if not isinstance(amount, int) or not isinstance(used, int):
                    raise BalanceUnavailable("AmountOfPackage/CurrentUsage: not integers")
                remaining += max(0, amount - used)
            if len(packages) < _PACKAGE_PAGE:
                return Balance(amount=float(remaining), unit="messages", at=self._clock.now())
            offset += _PACKAGE_PAGE

    async def aclose(self) -> None:
        await self._http.aclose()


def _status_outcome(answer: Answer, status: Mapping[str, object] | None) -> SubmitOutcome:
    """One number's SendStatus: `Ok` is taken, any other code fails that number only."""
    if status is None:
        # The call was taken but says nothing of this number: as unknown as a timeout.
        return answer.unreadable()
    if status.get("Code") != "Ok":
        return _failure(answer, status)
    fee = status.get("Fee")
    serial_no = status.get("SerialNo")
    return SubmitOutcome(
        accepted=True,
        latency_ms=answer.latency_ms,
        supplier_message_id=str(serial_no) if serial_no else None,
        segments=fee if isinstance(fee, int) and fee > 0 else None,
    )


def _failure(answer: Answer, error: Mapping[str, object]) -> SubmitOutcome:
    code = error.get("Code")
    if not isinstance(code, str) or not code:
        return answer.unreadable()
    message = error.get("Message")
    return answer.failure(
        code,
        SUBMIT_CODES.classify(code, answer.response.status_code),
        str(message) if message is not None else None,
    )


def _package_set(body: Mapping[str, object]) -> list[dict[str, object]]:
    response = body.get("Response")
    if not isinstance(response, dict):
        raise BalanceUnavailable("Response: missing")
    error = response.get("Error")
    if isinstance(error, dict):
        raise BalanceUnavailable(f"{error.get('Code')}: {error.get('Message')}")
    packages = response.get("SmsPackagesStatisticsSet")
    if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
        raise BalanceUnavailable("SmsPackagesStatisticsSet: missing or not a list of objects")
    return packages


class _StatusReport(msgspec.Struct):
    """One element of a Tencent status push (SUPPLIERS.md §2); unknown fields are ignored."""

    sid: Annotated[str, msgspec.Meta(min_length=1)]
    report_status: str
    user_receive_time: str | None = None
    nationcode: str | None = None
    mobile: str | None = None
    errmsg: str | None = None
    description: str | None = None


class TencentCallbackReader:
    """Reads status pushes: a JSON array of results, answered `{"result":0,"errmsg":"OK"}`."""

    def __init__(self, callback_token: str | None = None) -> None:
        self._token_check = TokenCheck(callback_token)

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        return self._token_check.verify(url)

    def parse(self, url: str, headers: Mapping[str, str], body: bytes) -> list[SupplierReport]:
        items = decode_json_array(body, _StatusReport)
        return [_normalize(index, item) for index, item in enumerate(items)]

    def reply_ok(self) -> CallbackReply:
        return json_reply(200, {"result": 0, "errmsg": "OK"})

    def reply_rejected(self, reason: str) -> CallbackReply:
        return json_reply(400, {"result": 1, "errmsg": reason})

    def reply_retry_later(self) -> CallbackReply:
        return json_reply(503, {"result": 1, "errmsg": "retry later"})


def _normalize(index: int, report: _StatusReport) -> SupplierReport:
    if report.report_status == "SUCCESS":
        delivered = True
    elif report.report_status == "FAIL":
        delivered = False
    else:
        raise ValueError(f"[{index}].report_status: expected SUCCESS or FAIL")
    phone = f"+{report.nationcode}{report.mobile}" if report.nationcode and report.mobile else None
    return SupplierReport(
        supplier_message_id=report.sid,
        status="DELIVERED" if delivered else failed_report_status(report.errmsg),
        raw_status=report.errmsg or report.report_status,
        error_code=None if delivered else report.errmsg,
        reported_at=local_time(report.user_receive_time, f"[{index}].user_receive_time"),
        phone=phone or report.mobile,
        extra={"description": report.description} if report.description else {},
    )
