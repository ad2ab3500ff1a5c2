"""The Alibaba Dysmsapi RPC endpoint of the simulator: signed GET/POST `/`, SendSms, queries.

Checks run in the gateway's order: required common parameters, access key, timestamp (15 min
skew, the stricter of the documented bounds), signature, nonce replay, version, action.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from suppliers.segments import count_segments
from suppliers.settings import AliyunAccount
from suppliers.signing import (
    aliyun_parse_timestamp,
    aliyun_rpc_signature_valid,
    aliyun_string_to_sign,
)
from testbench.simulators.config import SimulatorConfig
from testbench.simulators.engine import SimulatorEngine
from testbench.simulators.records import Submission, SubmitAttempt
from testbench.simulators.web import china_time, form_params, json_response, mainland_e164, paced

VERSION: Final = "2017-05-25"
MAX_SKEW: Final = timedelta(minutes=15)
MAX_NUMBERS: Final = 1000
MAX_BATCH_NUMBERS: Final = 100  # SendBatchSms PhoneNumberJson
MAX_PARAM_CHARS: Final = 35  # per template variable (C: Alibaba's documented variable cap)
_COMMON: Final = (
    "AccessKeyId",
    "Action",
    "Version",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
    "Signature",
)
_URL: Final = re.compile(r"https?://|www\.", re.IGNORECASE)


class AliyunError(Exception):
    """An answer other than OK: the code, its HTTP status and message."""

    def __init__(self, code: str, message: str, status: int = 200) -> None:
        super().__init__(code)
        self.code, self.message, self.status = code, message, status


def _missing(name: str) -> AliyunError:
    return AliyunError(f"Missing{name}", f"{name} is mandatory for this action.", 400)


class NonceRegistry:
    """SignatureNonces seen within the timestamp window; a replay inside it is refused."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, datetime] = OrderedDict()

    def use(self, nonce: str, now: datetime) -> bool:
        """Record `nonce`; False if it was already used within the window."""
        while self._seen and next(iter(self._seen.values())) < now - 2 * MAX_SKEW:
            self._seen.popitem(last=False)
        if nonce in self._seen:
            return False
        self._seen[nonce] = now
        return True


class AliyunApi:
    """Answers Dysmsapi calls for one account."""

    def __init__(self, engine: SimulatorEngine, account: AliyunAccount) -> None:
        self._engine = engine
        self._account = account
        self._nonces = NonceRegistry()

    def handle(self, method: str, params: dict[str, str]) -> Response:
        request_id = self._engine.sampler.uuid().upper()
        try:
            self._authenticate(method, params)
            body = self._dispatch(params)
        except AliyunError as error:
            body = {"RequestId": request_id, "Code": error.code, "Message": error.message}
            return json_response(body, error.status)
        return json_response({"RequestId": request_id, **body})

    def _authenticate(self, method: str, params: dict[str, str]) -> None:
        for name in _COMMON:
            if not params.get(name):
                raise _missing(name)
        engine = self._engine
        if engine.outage() == "auth_fail" or params["AccessKeyId"] != self._account.access_key_id:
            raise self._code("InvalidAccessKeyId.NotFound")
        try:
            sent_at = aliyun_parse_timestamp(params["Timestamp"])
        except ValueError:
            raise AliyunError(
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
                400,
            ) from None
        now = engine.clock.now()
        if abs(now - sent_at) > MAX_SKEW:
            raise AliyunError(
                "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.", 400
            )
        secret = self._account.access_key_secret.get_secret_value()
        if engine.plan.verify_signatures and not aliyun_rpc_signature_valid(method, params, secret):
            spec = engine.profile.code("SignatureDoesNotMatch")
            server_string = aliyun_string_to_sign(method, params)
            message = f"{spec.message} server string to sign is:{server_string}"
            raise AliyunError(spec.code, message, spec.http_status)
        if not self._nonces.use(params["SignatureNonce"], now):
            raise AliyunError(
                "SignatureNonceUsed", "Specified signature nonce was used already.", 400
            )
        if params["Version"] != VERSION:
            raise AliyunError("InvalidVersion", "Specified parameter Version is not valid.", 400)

    def _dispatch(self, params: dict[str, str]) -> dict[str, Any]:
        action = params["Action"]
        if action == "SendSms":
            return self._send_sms(params)
        if action == "SendBatchSms":
            return self._send_batch_sms(params)
        if action == "QuerySendDetails":
            return self._query_send_details(params)
        raise AliyunError(
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
            404,
        )

    def _code(self, code: str) -> AliyunError:
        spec = self._engine.profile.code(code)
        return AliyunError(spec.code, spec.message, spec.http_status)

    # --- SendSms ----------------------------------------------------------------------------------
    def _send_sms(self, params: dict[str, str]) -> dict[str, Any]:
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not params.get(name):
                raise _missing(name)
        numbers = [part for part in params["PhoneNumbers"].split(",") if part.strip()]
        if len(numbers) > MAX_NUMBERS:
            raise self._code("isv.MOBILE_COUNT_OVER_LIMIT")
        phones = [mainland_e164(number) for number in numbers]
        if not phones or None in phones:
            raise self._code("isv.MOBILE_NUMBER_ILLEGAL")
        attempt = self._attempt(
            tuple(phone for phone in phones if phone is not None),
            params["SignName"],
            params["TemplateCode"],
            self._template_values(params.get("TemplateParam")),
            params.get("OutId") or None,
        )
        return self._answer([attempt])

    def _send_batch_sms(self, params: dict[str, str]) -> dict[str, Any]:
        """SendBatchSms: a signature and parameters per number, one template, one BizId."""
        for name in ("PhoneNumberJson", "SignNameJson", "TemplateCode"):
            if not params.get(name):
                raise _missing(name)
        numbers = self._json_array(params["PhoneNumberJson"])
        signs = self._json_array(params["SignNameJson"])
        raw_values = params.get("TemplateParamJson")
        values = self._json_array(raw_values) if raw_values else [{}] * len(numbers)
        if len(numbers) > MAX_BATCH_NUMBERS:
            raise self._code("isv.MOBILE_COUNT_OVER_LIMIT")
        if not numbers or len(signs) != len(numbers) or len(values) != len(numbers):
            raise self._code("isv.INVALID_PARAMETERS")
        attempts = []
        for number, sign, value in zip(numbers, signs, values, strict=True):
            phone = mainland_e164(number) if isinstance(number, str) else None
            if phone is None:
                raise self._code("isv.MOBILE_NUMBER_ILLEGAL")
            if not isinstance(sign, str) or not sign:
                raise self._code("isv.INVALID_PARAMETERS")
            attempt = self._attempt(
                (phone,),
                sign,
                params["TemplateCode"],
                self._string_values(value),
                params.get("OutId") or None,
            )
            attempts.append(attempt)
        return self._answer(attempts)

    def _attempt(
        self,
        phones: tuple[str, ...],
        sign_name: str,
        template_code: str,
        values: dict[str, str],
        out_id: str | None,
    ) -> SubmitAttempt:
        """One signature, template and parameter set for `phones`, checked as Alibaba does."""
        template = self._engine.template(template_code)
        if template is not None:
            if any(name not in values for name in template.params):
                raise self._code("isv.TEMPLATE_MISSING_PARAMETERS")
            if any(_URL.search(value) for value in values.values()):
                raise self._code("isv.PARAM_NOT_SUPPORT_URL")
            if any(len(value) > MAX_PARAM_CHARS for value in values.values()):
                raise self._code("isv.PARAM_LENGTH_LIMIT")
        text = template.text if template and template.text else None
        if text is not None:
            for name, value in values.items():
                text = text.replace("${" + name + "}", value)
        content = f"【{sign_name}】{text or ''.join(values.values())}"
        return SubmitAttempt(
            phones=phones,
            sign_name=sign_name,
            template_code=template_code,
            message_class=template.message_class if template else "notification",
            # Without the template's text the billed length is unknown: one segment.
            segments=count_segments(content).segments if text is not None else 1,
            content=content,
            out_id=out_id,
        )

    def _answer(self, attempts: list[SubmitAttempt]) -> dict[str, Any]:
        reply = self._engine.submit_call(attempts)
        if reply.refusal is not None:
            spec = self._engine.profile.code(reply.refusal.code)
            raise AliyunError(spec.code, reply.refusal.message, spec.http_status)
        batch_id = next(r.submission.batch_id for r in reply.recipients if r.submission)
        return {"Code": "OK", "Message": "OK", "BizId": batch_id}

    def _json_array(self, raw: str) -> list[Any]:
        try:
            values = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise self._code("isv.INVALID_JSON_PARAM") from None
        if not isinstance(values, list):
            raise self._code("isv.INVALID_JSON_PARAM")
        return values

    def _template_values(self, raw: str | None) -> dict[str, str]:
        if not raw:
            return {}
        try:
            values = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise self._code("isv.INVALID_JSON_PARAM") from None
        return self._string_values(values)

    def _string_values(self, values: object) -> dict[str, str]:
        """A JSON object of strings: `{"code":1234}` is refused with isv.INVALID_JSON_PARAM."""
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise self._code("isv.INVALID_JSON_PARAM")
        return values

    # --- QuerySendDetails -------------------------------------------------------------------------
    def _query_send_details(self, params: dict[str, str]) -> dict[str, Any]:
        for name in ("PhoneNumber", "SendDate", "PageSize", "CurrentPage"):
            if not params.get(name):
                raise _missing(name)
        phone = mainland_e164(params["PhoneNumber"])
        if phone is None:
            raise self._code("isv.MOBILE_NUMBER_ILLEGAL")
        try:
            day = datetime.strptime(params["SendDate"], "%Y%m%d").date()
            page_size, page = int(params["PageSize"]), int(params["CurrentPage"])
        except ValueError:
            raise self._code("isv.INVALID_PARAMETERS") from None
        if not 1 <= page_size <= 50 or page < 1:
            raise self._code("isv.INVALID_PARAMETERS")
        biz_id = params.get("BizId")
        found = [
            submission
            for submission in self._engine.submissions.for_phone(phone)
            if china_time(submission.submitted_at, "%Y%m%d") == day.strftime("%Y%m%d")
            and (not biz_id or submission.batch_id == biz_id)
        ]
        rows = [self._detail(s) for s in found[(page - 1) * page_size : page * page_size]]
        return {
            "Code": "OK",
            "Message": "OK",
            "TotalCount": len(found),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": rows},
        }

    def _detail(self, submission: Submission) -> dict[str, Any]:
        known = self._engine.final_known(submission)
        delivered = known and submission.outcome == "DELIVERED"
        final_at = submission.final_at
        return {
            "PhoneNum": submission.phone.removeprefix("+86"),
            "SendStatus": 3 if delivered else 2 if known else 1,
            "ErrCode": submission.raw_code if known else "",
            "TemplateCode": submission.attempt.template_code or "",
            "Content": submission.attempt.content,
            "SendDate": china_time(submission.submitted_at),
            "ReceiveDate": china_time(final_at) if known and final_at else "",
            "OutId": submission.attempt.out_id or "",
        }


def aliyun_routes(engine: SimulatorEngine, config: SimulatorConfig) -> list[Route]:
    assert isinstance(config.account, AliyunAccount)
    api = AliyunApi(engine, config.account)

    async def rpc(request: Request) -> Response:
        params = dict(await form_params(request))
        return await paced(engine, lambda: api.handle(request.method, params))

    return [Route("/", rpc, methods=["GET", "POST"])]
