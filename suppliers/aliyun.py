"""Alibaba Cloud SMS (Dysmsapi 2017-05-25): the SendSms adapter and the SmsReport push reader."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Mapping, Sequence
from typing import Annotated, Final

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
    TokenCheck,
    decode_json_array,
    json_reply,
    local_time,
)
from suppliers.receipt_codes import failed_report_status
from suppliers.settings import AliyunAccount, SupplierSettings
from suppliers.signing import aliyun_rpc_signature, aliyun_timestamp
from suppliers.submit_codes import CodeTable
from suppliers.transport import SupplierHttp

API_VERSION: Final = "2017-05-25"
# SendBatchSms: up to 100 numbers, each with its own signature and parameters (SUPPLIERS.md §1).
MAX_BATCH_NUMBERS: Final = 100

_R = SubmitErrorClass
# Every code of SUPPLIERS.md §1 and the RPC gateway's common table, classed per §7.2.
SUBMIT_CODES: Final = CodeTable(
    exact={
        "isv.BUSINESS_LIMIT_CONTROL": _R.RECIPIENT_LIMIT,
        "isv.DAY_LIMIT_CONTROL": _R.SUPPLIER_WIDE,
        "isv.MONTH_LIMIT_CONTROL": _R.SUPPLIER_WIDE,
        "isv.MOBILE_NUMBER_ILLEGAL": _R.PERMANENT,
        "isv.MOBILE_COUNT_OVER_LIMIT": _R.PERMANENT,
        "isv.AMOUNT_NOT_ENOUGH": _R.SUPPLIER_WIDE,
        "isv.OUT_OF_SERVICE": _R.SUPPLIER_WIDE,
        "isv.ACCOUNT_NOT_EXISTS": _R.SUPPLIER_WIDE,
        "isv.ACCOUNT_ABNORMAL": _R.SUPPLIER_WIDE,
        "isv.PRODUCT_UN_SUBSCRIPT": _R.SUPPLIER_WIDE,
        "isv.PRODUCT_UNSUBSCRIBE": _R.SUPPLIER_WIDE,
        "isp.RAM_PERMISSION_DENY": _R.SUPPLIER_WIDE,
        "isv.DENY_IP_RANGE": _R.SUPPLIER_WIDE,
        "isv.SMS_SIGNATURE_ILLEGAL": _R.SUPPLIER_WIDE,
        "isv.SMS_SIGN_ILLEGAL": _R.SUPPLIER_WIDE,
        "isv.SIGN_STATE_ILLEGAL": _R.SUPPLIER_WIDE,
        "isv.SMS_SIGNATURE_SCENE_ILLEGAL": _R.SUPPLIER_WIDE,
        "isv.SMS_TEMPLATE_ILLEGAL": _R.SUPPLIER_WIDE,
        "isv.TEMPLATE_MISSING_PARAMETERS": _R.PERMANENT,
        "isv.INVALID_JSON_PARAM": _R.PERMANENT,
        "isv.INVALID_PARAMETERS": _R.PERMANENT,
        "isv.PARAM_LENGTH_LIMIT": _R.PERMANENT,
        "isv.SMS_CONTENT_ILLEGAL": _R.PERMANENT,
        "isv.BLACK_KEY_CONTROL_LIMIT": _R.PERMANENT,
        "isv.PARAM_NOT_SUPPORT_URL": _R.PERMANENT,
        "isp.SYSTEM_ERROR": _R.RETRIABLE,
        "isp.GATEWAY_ERROR": _R.RETRIABLE,
        "InternalError": _R.RETRIABLE,
        "ServiceUnavailable": _R.RETRIABLE,
        "SignatureDoesNotMatch": _R.SUPPLIER_WIDE,
        # A reused nonce is a one-off: the next attempt draws a fresh one.
        "SignatureNonceUsed": _R.RETRIABLE,
    },
    prefixes=(
        ("Throttling", _R.THROTTLED),  # Throttling, Throttling.User, Throttling.Api
        ("InvalidAccessKeyId", _R.SUPPLIER_WIDE),  # .NotFound, .Inactive
        # Our clock is off: every submit to this supplier fails until it is fixed.
        ("InvalidTimeStamp", _R.SUPPLIER_WIDE),
    ),
)


def aliyun_phone_number(e164: str) -> str:
    """`PhoneNumbers` form: 11 national digits for mainland, country code + number otherwise."""
    if e164.startswith("+86"):
        return e164[3:]
    return e164.removeprefix("+")


def aliyun_recipient_id(biz_id: str, phone_number: str) -> str:
    """One recipient of a multi-number send, which shares one BizId: reports name it by
    `biz_id` + `phone_number` (SUPPLIERS.md §6)."""
    return f"{biz_id}/{phone_number}"


class AliyunAdapter:
    """Submits through one Alibaba account with RPC-signed `SendSms` POSTs."""

    dialect: Final = "aliyun"

    def __init__(self, settings: SupplierSettings, account: AliyunAccount, clock: Clock) -> None:
        self._name = settings.name
        self._account = account
        self._secret = account.access_key_secret.get_secret_value()
        self._clock = clock
        self._http = SupplierHttp.for_supplier(settings, clock)

    @property
    def name(self) -> str:
        return self._name

    def send_sms_params(self, request: SubmitRequest) -> dict[str, str]:
        """Every SendSms parameter, common ones and `Signature` included."""
        params = self._common_params("SendSms")
        params["PhoneNumbers"] = aliyun_phone_number(request.phone)
        params["SignName"] = request.sign_name
        params["TemplateCode"] = request.template_id
        params["OutId"] = request.message_id
        if request.template_params:
            # A JSON object of strings: numbers are refused with isv.INVALID_JSON_PARAM.
            params["TemplateParam"] = _json(dict(request.template_params))
        params["Signature"] = aliyun_rpc_signature("POST", params, self._secret)
        return params

    def batch_params(self, requests: Sequence[SubmitRequest]) -> dict[str, str]:
        """One SendBatchSms: a number, signature and parameter set per request, one template.

        No OutId (one per call): reports name each number by BizId and phone_number.
        """
        params = self._common_params("SendBatchSms")
        params["TemplateCode"] = requests[0].template_id
        params["PhoneNumberJson"] = _json([aliyun_phone_number(r.phone) for r in requests])
        params["SignNameJson"] = _json([request.sign_name for request in requests])
        if any(request.template_params for request in requests):
            params["TemplateParamJson"] = _json([dict(r.template_params) for r in requests])
        params["Signature"] = aliyun_rpc_signature("POST", params, self._secret)
        return params

    def _common_params(self, action: str) -> dict[str, str]:
        return {
            "AccessKeyId": self._account.access_key_id,
            "Action": action,
            "Version": API_VERSION,
            "Format": "JSON",
            "RegionId": self._account.region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": str(uuid.uuid4()),
            "Timestamp": aliyun_timestamp(self._clock.now()),
        }

    @property
    def max_batch(self) -> int:
        return MAX_BATCH_NUMBERS

    def batch_key(self, request: SubmitRequest) -> Hashable | None:
        """A call carries one template; OTP goes alone (Alibaba: batches are slower)."""
        return None if request.message_class == "otp" else request.template_id

    async def submit(self, request: SubmitRequest) -> SubmitOutcome:
        outcomes = await self._send(self.send_sms_params(request), [request])
        return outcomes if isinstance(outcomes, SubmitOutcome) else outcomes[0]

    async def submit_batch(
        self, requests: Sequence[SubmitRequest]
    ) -> list[SubmitOutcome] | SubmitOutcome:
        return await self._send(self.batch_params(requests), requests)

    async def _send(
        self, params: dict[str, str], requests: Sequence[SubmitRequest]
    ) -> list[SubmitOutcome] | SubmitOutcome:
        """Every number accepted under the call's BizId, or the call's one failure code.

        A single send is known by its BizId (and its OutId); a number of a multi-number send
        by BizId and number, as its reports will name it.
        """
        http_request = self._http.build_request("POST", "/", data=params)
        answer = await self._http.exchange(http_request)
        if isinstance(answer, SubmitOutcome):
            return answer
        body = answer.json_object()
        code = body.get("Code") if body is not None else None
        if body is None or not isinstance(code, str):
            return answer.unreadable()
        if code != "OK":
            message = body.get("Message")
            return answer.failure(
                code,
                SUBMIT_CODES.classify(code, answer.response.status_code),
                str(message) if message is not None else None,
            )
        biz_id = str(body.get("BizId") or "") or None
        if biz_id is None or len(requests) == 1:
            ids = [biz_id] * len(requests)
        else:
            ids = [aliyun_recipient_id(biz_id, aliyun_phone_number(r.phone)) for r in requests]
        return [
            SubmitOutcome(accepted=True, latency_ms=answer.latency_ms, supplier_message_id=id_)
            for id_ in ids
        ]

    async def balance(self) -> Balance | None:
        # Dysmsapi has no balance API (account balance lives in the billing API, BSS).
        return None

    async def aclose(self) -> None:
        await self._http.aclose()


class _SmsReport(msgspec.Struct):
    """One element of an SmsReport push (SUPPLIERS.md §1); unknown fields are ignored."""

    biz_id: Annotated[str, msgspec.Meta(min_length=1)]
    success: bool
    err_code: str | None = None
    err_msg: str | None = None
    phone_number: str | None = None
    send_time: str | None = None
    report_time: str | None = None
    sms_size: str | None = None
    out_id: str | None = None


class AliyunCallbackReader:
    """Reads SmsReport pushes: a JSON array of reports, answered `{"code":0,"msg":"接收成功"}`."""

    def __init__(self, callback_token: str | None = None) -> None:
        self._token_check = TokenCheck(callback_token)

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        return self._token_check.verify(url)

    def parse(self, url: str, headers: Mapping[str, str], body: bytes) -> list[SupplierReport]:
        return [
            _normalize(index, item)
            for index, item in enumerate(decode_json_array(body, _SmsReport))
        ]

    def reply_ok(self) -> CallbackReply:
        return json_reply(200, {"code": 0, "msg": "接收成功"})

    def reply_rejected(self, reason: str) -> CallbackReply:
        # Alibaba only checks for a numeric `code` on a 200; any other status is a refusal.
        return json_reply(400, {"code": 400, "msg": reason})

    def reply_retry_later(self) -> CallbackReply:
        # Non-200 makes Alibaba push again after 1, 5 and 10 minutes.
        return json_reply(503, {"code": 503, "msg": "retry later"})


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _normalize(index: int, report: _SmsReport) -> SupplierReport:
    raw = report.err_code or ("DELIVERED" if report.success else "")
    extra = {
        name: value
        for name, value in (("err_msg", report.err_msg), ("sms_size", report.sms_size))
        if value
    }
    return SupplierReport(
        supplier_message_id=report.biz_id,
        status="DELIVERED" if report.success else failed_report_status(report.err_code),
        raw_status=raw,
        error_code=None if report.success else report.err_code,
        reported_at=local_time(report.report_time, f"[{index}].report_time"),
        phone=report.phone_number,
        message_id=report.out_id or None,
        recipient_id=(
            aliyun_recipient_id(report.biz_id, report.phone_number) if report.phone_number else None
        ),
        extra=extra,
    )
