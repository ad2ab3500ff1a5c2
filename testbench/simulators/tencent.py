"""Tencent Cloud SMS (2021-01-11) as the simulator speaks it: codes, defaults, status pushes.

The API 3.0 endpoint itself is in `tencent_api`; this module holds what the engine and pusher
need. Every answer, error or not, is HTTP 200 with a `Response` object, as API 3.0 does.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Final

import orjson
from starlette.responses import Response
from starlette.routing import Route

from testbench.simulators.config import SimulatorConfig
from testbench.simulators.engine import SimulatorEngine
from testbench.simulators.plan import LimitRule, Throttle
from testbench.simulators.profile import (
    DialectProfile,
    SubmitCode,
    magic_defaults,
    single_final_report,
)
from testbench.simulators.pusher import OutgoingPush
from testbench.simulators.records import ReceiptEvent, Verdict
from testbench.simulators.sampling import Sampler
from testbench.simulators.tencent_api import report_fields, split_phone, tencent_routes
from testbench.simulators.web import china_time, json_response

_REQUEST: Final = (
    ("RequestLimitExceeded", "请求的次数超过了频率限制。"),
    ("RequestLimitExceeded.GlobalRegionUinLimitExceeded", "Uin 总请求频率超过限制。"),
    ("RequestLimitExceeded.IPLimitExceeded", "IP 请求频率超过限制。"),
    ("LimitExceeded.AppDailyLimit", "业务短信日下发条数超过设定的上限。"),
    ("LimitExceeded.DailyLimit", "短信日下发条数超过设定的上限（国际/港澳台）。"),
    ("FailedOperation.InsufficientBalanceInSmsPackage", "套餐包余量不足。"),
    ("UnauthorizedOperation.SerivceSuspendDueToArrears", "欠费被停止服务。"),
    ("UnauthorizedOperation.SdkAppIdIsDisabled", "此 SdkAppId 禁止提供服务。"),
    ("UnauthorizedOperation.RequestIpNotInWhitelist", "请求 IP 不在白名单中。"),
    ("UnauthorizedOperation.RequestPermissionDeny", "请求没有权限。"),
    ("AuthFailure.SecretIdNotFound", "密钥不存在。"),
    ("AuthFailure.SignatureFailure", "签名错误。"),
    ("AuthFailure.SignatureExpire", "签名过期。Timestamp 和服务器时间相差不得超过五分钟。"),
    ("AuthFailure.InvalidAuthorization", "请求头部的 Authorization 不符合腾讯云标准。"),
    ("FailedOperation.SignatureIncorrectOrUnapproved", "签名未审批或格式错误。"),
    ("FailedOperation.TemplateIncorrectOrUnapproved", "模板未审批或内容不匹配。"),
    ("FailedOperation.ContainSensitiveWord", "短信内容中含有敏感词。"),
    (
        "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
        "禁止在模板变量中使用 URL。",
    ),
    ("InvalidParameterValue.TemplateParameterFormatError", "验证码模板参数格式错误。"),
    ("InvalidParameterValue.TemplateParameterLengthLimit", "单个模板变量字符数超过12个。"),
    ("InvalidParameterValue.ContentLengthLimit", "请求的短信内容太长。"),
    ("FailedOperation.MarketingSendTimeConstraint", "营销短信发送时间限制（08:00-22:00）。"),
    ("InternalError.Timeout", "请求下发短信超时。"),
    ("InternalError.SendAndRecvFail", "接口超时或短信收发包超时。"),
    ("InternalError.OtherError", "其他错误。"),
    ("InternalError.UnknownError", "未知错误类型。"),
)
_RECIPIENT: Final = (
    ("LimitExceeded.PhoneNumberDailyLimit", "单个手机号日下发短信条数超过设定的上限。"),
    ("LimitExceeded.PhoneNumberOneHourLimit", "单个手机号1小时内下发短信条数超过设定的上限。"),
    ("LimitExceeded.PhoneNumberThirtySecondLimit", "单个手机号30秒内下发短信条数超过设定的上限。"),
    ("LimitExceeded.PhoneNumberSameContentDailyLimit", "单个手机号下发相同内容超过设定的上限。"),
    ("LimitExceeded.DeliveryFrequencyLimit", "下发短信命中了频率限制策略。"),
    ("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误。"),
    ("FailedOperation.PhoneNumberInBlacklist", "手机号在免打扰名单库中。"),
    ("FailedOperation.PhoneNumberOnBlacklist", "手机号在黑名单库中。"),
)
CODES: Final = {
    **{code: SubmitCode(code, message, "request") for code, message in _REQUEST},
    **{code: SubmitCode(code, message, "recipient") for code, message in _RECIPIENT},
}


def _per_phone(window_s: float, limit: int, code: str) -> LimitRule:
    return LimitRule(window_s=window_s, limit=limit, per="phone", code=code)


# The console's default frequency rules for one number: 1 per 30 s, 5 per hour, 10 per day.
DEFAULT_LIMITS: Final = (
    _per_phone(30, 1, "LimitExceeded.PhoneNumberThirtySecondLimit"),
    _per_phone(3600, 5, "LimitExceeded.PhoneNumberOneHourLimit"),
    _per_phone(86400, 10, "LimitExceeded.PhoneNumberDailyLimit"),
)


def _ids(sampler: Sampler, count: int) -> tuple[str, list[str]]:
    return sampler.hex(16), [f"{sampler.digits(4)}:{sampler.digits(19)}" for _ in range(count)]


PROFILE: Final = DialectProfile(
    name="tencent",
    codes=CODES,
    verdict_codes={
        Verdict.THROTTLED: "RequestLimitExceeded",
        Verdict.NO_BALANCE: "FailedOperation.InsufficientBalanceInSmsPackage",
        Verdict.SUSPENDED: "UnauthorizedOperation.SerivceSuspendDueToArrears",
        Verdict.SIGNATURE_UNAPPROVED: "FailedOperation.SignatureIncorrectOrUnapproved",
        Verdict.TEMPLATE_UNAPPROVED: "FailedOperation.TemplateIncorrectOrUnapproved",
        Verdict.OPTED_OUT: "FailedOperation.PhoneNumberInBlacklist",
    },
    platform_error="InternalError.OtherError",
    per_recipient_results=True,
    default_throttle=Throttle(qps=3000),
    default_limits=DEFAULT_LIMITS,
    outcome_codes={
        "DELIVERED": ("DELIVRD",),
        "FAILED": ("MK:0001", "MK:0005", "MI:0024"),
        "EXPIRED": ("EXPIRED",),
        "REJECTED": ("MK:0014", "DB:0144"),
        "UNKNOWN": ("UNKNOWN",),
    },
    magic_numbers=magic_defaults("MK:0001"),
    retry_schedule_s=(60.0, 300.0, 600.0),  # U in Tencent's docs: Alibaba's schedule (C)
    balance_unit="messages",
    has_pull=True,
    max_per_push=None,
    make_ids=_ids,
    receipt_steps=single_final_report,
)


class StatusPushFormat:
    """Tencent's status callback: a JSON array; the reply must be `{"result": 0}`."""

    def render(self, events: Sequence[ReceiptEvent], url: str) -> OutgoingPush:
        reports = []
        for event in events:
            submission = event.submission
            nation, mobile = split_phone(submission.phone)
            status, description = report_fields(submission)
            reports.append(
                {
                    "user_receive_time": china_time(event.reported_at),
                    "nationcode": nation,
                    "mobile": mobile,
                    "report_status": status,
                    "errmsg": submission.raw_code,
                    "description": description,
                    "sid": submission.message_id,
                }
            )
        headers = {"Content-Type": "application/json"}
        return OutgoingPush(url, headers, orjson.dumps(reports))

    def accepted(self, status: int, body: bytes) -> bool:
        if status != 200:
            return False
        try:
            reply = orjson.loads(body)
        except orjson.JSONDecodeError:
            return False
        return isinstance(reply, dict) and reply.get("result") == 0


class TencentSim:
    """The Tencent dialect of the simulator."""

    profile = PROFILE

    def default_senders(self, config: SimulatorConfig) -> tuple[str, ...]:
        return ()

    def routes(self, engine: SimulatorEngine, config: SimulatorConfig) -> list[Route]:
        return tencent_routes(engine, config)

    def push_format(self, engine: SimulatorEngine, config: SimulatorConfig) -> StatusPushFormat:
        return StatusPushFormat()

    def unavailable(self) -> Response:
        error = {"Code": "InternalError", "Message": "服务暂时不可用，请稍后重试。"}
        return json_response({"Response": {"Error": error, "RequestId": str(uuid.uuid4())}}, 503)
