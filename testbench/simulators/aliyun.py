"""Alibaba Cloud SMS (Dysmsapi 2017-05-25) as the simulator speaks it: codes, defaults, SmsReport.

The RPC API itself is in `aliyun_api`; this module holds what the engine and pusher need.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Final

import orjson
from starlette.responses import Response
from starlette.routing import Route

from testbench.simulators.aliyun_api import aliyun_routes
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
from testbench.simulators.web import china_time, json_response

# Business codes answer HTTP 200 (every public client example); gateway codes use 4xx/5xx.
_CODES: Final = (
    SubmitCode("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1", "request"),
    SubmitCode("isv.DAY_LIMIT_CONTROL", "触发日发送限额", "request"),
    SubmitCode("isv.MONTH_LIMIT_CONTROL", "触发月发送限额", "request"),
    SubmitCode("Throttling.User", "Request was denied due to user flow control.", "request", 400),
    SubmitCode("Throttling", "Request was denied due to request throttling.", "request", 400),
    SubmitCode("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号", "request"),
    SubmitCode("isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制", "request"),
    SubmitCode("isv.AMOUNT_NOT_ENOUGH", "账户余额不足", "request"),
    SubmitCode("isv.OUT_OF_SERVICE", "业务停机", "request"),
    SubmitCode("isv.ACCOUNT_NOT_EXISTS", "账户不存在", "request"),
    SubmitCode("isv.ACCOUNT_ABNORMAL", "账户异常", "request"),
    SubmitCode("isv.PRODUCT_UN_SUBSCRIPT", "未开通云通信产品的阿里云客户", "request"),
    SubmitCode("isv.PRODUCT_UNSUBSCRIBE", "产品未开通", "request"),
    SubmitCode("isp.RAM_PERMISSION_DENY", "RAM权限DENY", "request"),
    SubmitCode("isv.DENY_IP_RANGE", "源IP地址所在的地区被禁用", "request"),
    SubmitCode("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名", "request"),
    SubmitCode("isv.SMS_SIGN_ILLEGAL", "签名禁止使用", "request"),
    SubmitCode("isv.SIGN_STATE_ILLEGAL", "签名状态不可用", "request"),
    SubmitCode("isv.SMS_SIGNATURE_SCENE_ILLEGAL", "签名和模板类型不一致", "request"),
    SubmitCode("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板", "request"),
    SubmitCode("isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值", "request"),
    SubmitCode("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值", "request"),
    SubmitCode("isv.INVALID_PARAMETERS", "参数异常", "request"),
    SubmitCode("isv.PARAM_LENGTH_LIMIT", "参数超出长度限制", "request"),
    SubmitCode("isv.SMS_CONTENT_ILLEGAL", "短信内容包含禁止发送内容", "request"),
    SubmitCode("isv.BLACK_KEY_CONTROL_LIMIT", "变量中传入疑似违规信息", "request"),
    SubmitCode("isv.PARAM_NOT_SUPPORT_URL", "不支持URL", "request"),
    SubmitCode("isp.SYSTEM_ERROR", "系统错误", "request"),
    SubmitCode("isp.GATEWAY_ERROR", "网关错误", "request"),
    SubmitCode(
        "SignatureDoesNotMatch",
        "Specified signature is not matched with our calculation.",
        "request",
        400,
    ),
    SubmitCode("InvalidAccessKeyId.NotFound", "Specified access key is not found.", "request", 404),
    SubmitCode(
        "InternalError",
        "The request processing has failed due to some unknown error, exception or failure.",
        "request",
        500,
    ),
    SubmitCode(
        "ServiceUnavailable",
        "The request has failed due to a temporary failure of the server.",
        "request",
        503,
    ),
    # A blacklisted recipient is accepted and fails at the carrier (receipt code, C).
    SubmitCode("MBBLACK", "黑名单号码", "async", async_outcome="REJECTED"),
)

_LIMIT = "isv.BUSINESS_LIMIT_CONTROL"


def _otp_rule(window_s: float, limit: int, level: str) -> LimitRule:
    return LimitRule(
        window_s=window_s,
        limit=limit,
        classes=["otp"],
        code=_LIMIT,
        message=f"触发{level}流控Permits:{limit}",
    )


# SUPPLIERS.md §1: OTP 1/min, 5/h, 10/day per signature; others 50/day per signature+template.
DEFAULT_LIMITS: Final = (
    _otp_rule(60, 1, "分钟级"),
    _otp_rule(3600, 5, "小时级"),
    _otp_rule(86400, 10, "天级"),
    LimitRule(
        window_s=86400,
        limit=50,
        classes=["notification", "marketing"],
        per="phone_signature_template",
        code=_LIMIT,
        message="触发天级流控Permits:50",
    ),
)

_ERR_MESSAGES: Final = {
    "DELIVERED": "用户接收成功",
    "MK:0001": "用户不存在",
    "MK:0005": "用户停机",
    "MK:0010": "用户关机或不在服务区超过最大存储时间",
    "MK:0023": "用户关机",
    "MK:0014": "内容安全拦截",
    "DB:0144": "网关黑名单",
    "MBBLACK": "黑名单号码",
}


def _ids(sampler: Sampler, count: int) -> tuple[str, list[str]]:
    # One BizId per call, shared by its numbers; the receipt key is BizId + phone.
    biz_id = f"{sampler.digits(16)}^0"
    return biz_id, [f"{biz_id}#{index}" for index in range(count)]


PROFILE: Final = DialectProfile(
    name="aliyun",
    codes={code.code: code for code in _CODES},
    verdict_codes={
        Verdict.THROTTLED: "Throttling.User",
        Verdict.NO_BALANCE: "isv.AMOUNT_NOT_ENOUGH",
        Verdict.SUSPENDED: "isv.OUT_OF_SERVICE",
        Verdict.SIGNATURE_UNAPPROVED: "isv.SMS_SIGNATURE_ILLEGAL",
        Verdict.TEMPLATE_UNAPPROVED: "isv.SMS_TEMPLATE_ILLEGAL",
        Verdict.OPTED_OUT: "MBBLACK",
    },
    platform_error="isp.SYSTEM_ERROR",
    per_recipient_results=False,
    default_throttle=Throttle(qps=5000),
    default_limits=DEFAULT_LIMITS,
    outcome_codes={
        "DELIVERED": ("DELIVERED",),
        "FAILED": ("MK:0001", "MK:0005", "MK:0023"),
        "EXPIRED": ("MK:0010",),
        "REJECTED": ("MK:0014", "DB:0144"),
        "UNKNOWN": ("UNKNOWN",),
    },
    magic_numbers=magic_defaults("MK:0001"),
    retry_schedule_s=(60.0, 300.0, 600.0),
    balance_unit="messages",
    has_pull=False,  # QuerySendDetails reads statuses, it does not consume pushes
    max_per_push=None,
    make_ids=_ids,
    receipt_steps=single_final_report,
)


class SmsReportFormat:
    """The SmsReport HTTP batch push: a JSON array; the reply needs a numeric `code`."""

    def render(self, events: Sequence[ReceiptEvent], url: str) -> OutgoingPush:
        reports = [
            {
                "phone_number": event.submission.phone.removeprefix("+86"),
                "send_time": china_time(event.submission.submitted_at),
                "report_time": china_time(event.reported_at),
                "success": event.submission.outcome == "DELIVERED",
                "err_code": event.submission.raw_code,
                "err_msg": _ERR_MESSAGES.get(event.submission.raw_code, "用户接收失败"),
                "sms_size": str(event.submission.attempt.segments),
                "biz_id": event.submission.batch_id,
                "out_id": event.submission.attempt.out_id or "",
            }
            for event in events
        ]
        headers = {"Content-Type": "application/json;charset=utf-8"}
        return OutgoingPush(url, headers, orjson.dumps(reports))

    def accepted(self, status: int, body: bytes) -> bool:
        if status != 200:
            return False
        try:
            reply = orjson.loads(body)
        except orjson.JSONDecodeError:
            return False
        code = reply.get("code") if isinstance(reply, dict) else None
        return isinstance(code, int | float) and not isinstance(code, bool)


class AliyunSim:
    """The Alibaba dialect of the simulator."""

    profile = PROFILE

    def default_senders(self, config: SimulatorConfig) -> tuple[str, ...]:
        return ()

    def routes(self, engine: SimulatorEngine, config: SimulatorConfig) -> list[Route]:
        return aliyun_routes(engine, config)

    def push_format(self, engine: SimulatorEngine, config: SimulatorConfig) -> SmsReportFormat:
        return SmsReportFormat()

    def unavailable(self) -> Response:
        code = PROFILE.code("ServiceUnavailable")
        request_id = str(uuid.uuid4()).upper()
        return json_response(
            {"RequestId": request_id, "Code": code.code, "Message": code.message}, 503
        )
