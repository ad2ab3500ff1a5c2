"""The Tencent SMS API 3.0 endpoint of the simulator: TC3-signed `POST /` with X-TC-* headers.

Actions: SendSms, PullSmsSendStatus (consumes due statuses) and SmsPackagesStatistics (the
package balance). Timestamps more than 5 minutes off the simulator's clock are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import orjson
import phonenumbers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from suppliers.segments import count_segments
from suppliers.settings import TencentAccount
from suppliers.signing import Tc3Authorization, tencent_tc3_authorization_valid
from testbench.simulators.config import SimulatorConfig
from testbench.simulators.engine import SimulatorEngine
from testbench.simulators.records import RecipientResult, Submission, SubmitAttempt
from testbench.simulators.web import json_response, mainland_e164, paced

VERSION: Final = "2021-01-11"
MAX_SKEW_S: Final = 300
MAX_NUMBERS: Final = 200
REGIONS: Final = frozenset(("ap-guangzhou", "ap-beijing", "ap-nanjing"))
# Reported for an unlimited balance: one huge package, so balance probes read "plenty".
UNLIMITED_PACKAGE: Final = 1_000_000_000
_URL: Final = re.compile(r"https?://|www\.", re.IGNORECASE)


class TencentError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code, self.message = code, message


def _missing(name: str) -> TencentError:
    return TencentError(
        "MissingParameter", f"The request is missing a required parameter `{name}`."
    )


def split_phone(e164: str) -> tuple[str, str]:
    """(country code, national number) of an E.164 number: ("86", "13800000001")."""
    number = phonenumbers.parse(e164, None)
    return str(number.country_code), str(number.national_number)


def report_fields(submission: Submission) -> tuple[str, str]:
    """(report_status, description) of a final report."""
    if submission.outcome == "DELIVERED":
        return "SUCCESS", "用户短信送达成功"
    return "FAIL", "用户短信接收失败"


def _phone(raw: str) -> tuple[str | None, bool]:
    """(E.164 or None if invalid, whether it is a mainland number)."""
    mainland = mainland_e164(raw)
    if mainland is not None:
        return mainland, True
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None, False
    if not raw.startswith("+") or not phonenumbers.is_valid_number(number):
        return None, False
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), False


class TencentApi:
    """Answers API 3.0 calls for one SMS application."""

    def __init__(self, engine: SimulatorEngine, account: TencentAccount) -> None:
        self._engine = engine
        self._account = account

    def handle(self, headers: Mapping[str, str], body: bytes) -> Response:
        request_id = self._engine.sampler.uuid()
        try:
            action = self._authenticate(headers, body)
            try:
                payload = orjson.loads(body) if body else {}
            except orjson.JSONDecodeError:
                raise TencentError(
                    "FailedOperation.JsonParseFail", "解析请求包体时候失败。"
                ) from None
            if not isinstance(payload, dict):
                raise TencentError("FailedOperation.JsonParseFail", "解析请求包体时候失败。")
            result = self._dispatch(action, payload)
        except TencentError as error:
            result = {"Error": {"Code": error.code, "Message": error.message}}
        return json_response({"Response": {**result, "RequestId": request_id}})

    def _authenticate(self, headers: Mapping[str, str], body: bytes) -> str:
        for header in ("X-TC-Action", "X-TC-Version", "X-TC-Timestamp", "X-TC-Region"):
            if not headers.get(header):
                raise _missing(header.removeprefix("X-TC-"))
        authorization = headers.get("Authorization", "")
        try:
            credential = Tc3Authorization.parse(authorization)
        except ValueError as exc:
            raise self._error("AuthFailure.InvalidAuthorization", str(exc)) from None
        engine = self._engine
        if engine.outage() == "auth_fail" or credential.secret_id != self._account.secret_id:
            raise self._error("AuthFailure.SecretIdNotFound")
        try:
            timestamp = int(headers["X-TC-Timestamp"])
        except ValueError:
            raise TencentError("InvalidParameter", "X-TC-Timestamp is not an integer.") from None
        if abs(engine.clock.now().timestamp() - timestamp) > MAX_SKEW_S:
            raise self._error("AuthFailure.SignatureExpire")
        secret = self._account.secret_key.get_secret_value()
        if engine.plan.verify_signatures and not tencent_tc3_authorization_valid(
            authorization,
            secret,
            headers.get("Host", ""),
            timestamp,
            body,
            headers.get("Content-Type", ""),
        ):
            raise self._error("AuthFailure.SignatureFailure")
        if headers["X-TC-Version"] != VERSION:
            raise TencentError("NoSuchVersion", "The API version does not exist.")
        if headers["X-TC-Region"] not in REGIONS:
            raise TencentError("UnsupportedRegion", "The region is not supported.")
        return headers["X-TC-Action"]

    def _error(self, code: str, detail: str | None = None) -> TencentError:
        return TencentError(code, detail or self._engine.profile.code(code).message)

    def _dispatch(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        handlers = {
            "SendSms": self._send_sms,
            "PullSmsSendStatus": self._pull_status,
            "SmsPackagesStatistics": self._packages,
        }
        handler = handlers.get(action)
        if handler is None:
            raise TencentError("InvalidAction", f"The action `{action}` does not exist.")
        if not payload.get("SmsSdkAppId"):
            raise _missing("SmsSdkAppId")
        if str(payload["SmsSdkAppId"]) != self._account.sdk_app_id:
            raise TencentError("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId 不存在。")
        return handler(payload)

    # --- SendSms ----------------------------------------------------------------------------------
    def _send_sms(self, payload: dict[str, Any]) -> dict[str, Any]:
        for name in ("PhoneNumberSet", "TemplateId"):
            if not payload.get(name):
                raise _missing(name)
        raw_phones = payload["PhoneNumberSet"]
        if not isinstance(raw_phones, list) or not all(isinstance(p, str) for p in raw_phones):
            raise TencentError("InvalidParameter", "PhoneNumberSet must be an array of strings.")
        if len(raw_phones) > MAX_NUMBERS:
            raise TencentError("LimitExceeded.PhoneNumberCountLimit", "手机号个数超过200个。")
        parsed = [_phone(raw) for raw in raw_phones]
        mainland_flags = {mainland for phone, mainland in parsed if phone is not None}
        if len(mainland_flags) > 1:
            raise TencentError(
                "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
                "群发请求里既有国内手机号也有国际手机号。",
            )
        sign_name = str(payload.get("SignName") or "")
        if not sign_name and True in mainland_flags:
            raise self._error("FailedOperation.SignatureIncorrectOrUnapproved")
        template_id = str(payload["TemplateId"])
        values = payload.get("TemplateParamSet") or []
        template = self._engine.template(template_id)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise self._error("InvalidParameterValue.TemplateParameterFormatError")
        if template is not None and template.params and len(values) != len(template.params):
            raise self._error("InvalidParameterValue.TemplateParameterFormatError")
        if any(_URL.search(value) for value in values):
            raise self._error("InvalidParameterValue.ProhibitedUseUrlInTemplateParameter")
        text = template.text if template and template.text else None
        if text is not None:
            for position, value in enumerate(values, start=1):
                text = text.replace("{" + str(position) + "}", value)
        content = (f"【{sign_name}】" if sign_name else "") + (text or "".join(values))
        session = str(payload.get("SessionContext") or "")
        valid = tuple(phone for phone, _ in parsed if phone is not None)
        results: dict[str, RecipientResult] = {}
        if valid:
            attempt = SubmitAttempt(
                phones=valid,
                sign_name=sign_name or None,
                template_code=template_id,
                message_class=template.message_class if template else "notification",
                segments=count_segments(content).segments if text is not None else 1,
                content=content,
                out_id=session or None,
            )
            reply = self._engine.submit(attempt)
            if reply.refusal is not None:
                raise TencentError(reply.refusal.code, reply.refusal.message)
            results = {result.phone: result for result in reply.recipients}
        statuses = [
            self._status(raw, phone, results.get(phone) if phone else None, session)
            for raw, (phone, _) in zip(raw_phones, parsed, strict=True)
        ]
        return {"SendStatusSet": statuses}

    def _status(
        self, raw: str, phone: str | None, result: RecipientResult | None, session: str
    ) -> dict[str, Any]:
        iso = "CN"
        if phone is not None:
            iso = phonenumbers.region_code_for_number(phonenumbers.parse(phone, None)) or "CN"
        entry: dict[str, Any] = {
            "SerialNo": "",
            "PhoneNumber": phone or raw,
            "Fee": 0,
            "SessionContext": session,
            "IsoCode": iso,
        }
        if result is not None and result.submission is not None:
            fee = result.submission.attempt.segments
            serial = result.submission.message_id
            return {
                **entry,
                "SerialNo": serial,
                "Fee": fee,
                "Code": "Ok",
                "Message": "send success",
            }
        if result is not None and result.refusal is not None:
            return {**entry, "Code": result.refusal.code, "Message": result.refusal.message}
        code = "InvalidParameterValue.IncorrectPhoneNumber"
        return {**entry, "Code": code, "Message": self._engine.profile.code(code).message}

    # --- PullSmsSendStatus and SmsPackagesStatistics --------------------------------------------
    def _pull_status(self, payload: dict[str, Any]) -> dict[str, Any]:
        limit = payload.get("Limit")
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            raise TencentError("InvalidParameterValue", "Limit must be an integer in [1, 100].")
        rows = []
        for event in self._engine.take_pull(limit):
            submission = event.submission
            country, national = split_phone(submission.phone)
            status, description = report_fields(submission)
            rows.append(
                {
                    "UserReceiveTime": int(event.reported_at.timestamp()),
                    "CountryCode": country,
                    "SubscriberNumber": national,
                    "PhoneNumber": submission.phone,
                    "SerialNo": submission.message_id,
                    "ReportStatus": status,
                    "Description": description,
                    "SessionContext": submission.attempt.out_id or "",
                }
            )
        return {"PullSmsSendStatusSet": rows}

    def _packages(self, payload: dict[str, Any]) -> dict[str, Any]:
        for name in ("Limit", "Offset", "BeginTime", "EndTime"):
            if payload.get(name) is None:
                raise _missing(name)
        offset = payload["Offset"]
        if not isinstance(offset, int) or offset < 0:
            raise TencentError("InvalidParameterValue", "Offset must be a non-negative integer.")
        if offset > 0:
            return {"SmsPackagesStatisticsSet": []}
        balance = self._engine.balance()
        plan = self._engine.plan.balance
        amount = int(plan.initial_units) if plan else UNLIMITED_PACKAGE
        used = amount - int(balance.units) if balance.units is not None else 0
        created = datetime(2020, 1, 1, tzinfo=UTC)
        expires = datetime(2099, 12, 31, tzinfo=UTC)
        package = {
            "PackageCreateTime": "2020-01-01 08:00:00",
            "PackageCreateUnixTime": int(created.timestamp()),
            "PackageEffectiveTime": "2020-01-01 08:00:00",
            "PackageEffectiveUnixTime": int(created.timestamp()),
            "PackageExpiredTime": "2100-01-01 07:59:59",
            "PackageExpiredUnixTime": int(expires.timestamp()),
            "AmountOfPackage": amount,
            "TypeOfPackage": 2,
            "PackageId": 1,
            "CurrentUsage": used,
        }
        return {"SmsPackagesStatisticsSet": [package]}


def tencent_routes(engine: SimulatorEngine, config: SimulatorConfig) -> list[Route]:
    assert isinstance(config.account, TencentAccount)
    api = TencentApi(engine, config.account)

    async def call(request: Request) -> Response:
        body = await request.body()
        return await paced(engine, lambda: api.handle(request.headers, body))

    return [Route("/", call, methods=["POST"])]
