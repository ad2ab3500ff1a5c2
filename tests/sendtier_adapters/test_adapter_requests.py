"""Adapters send the dialect's real request and read its answers, checked on a real HTTP server."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from adapter_receiver import Reply, SupplierReceiver, free_port, json_reply, running_receiver
from adapter_settings import (
    ALIYUN_SECRET,
    CMPP_SECRET,
    TENCENT_SECRET,
    TWILIO_SID,
    TWILIO_TOKEN,
    otp_request,
    supplier,
)

from smsplatform.clock import ManualClock
from suppliers.base import Balance, SubmitErrorClass
from suppliers.registry import make_adapter
from suppliers.signing import (
    aliyun_rpc_signature_valid,
    cmpp_submit_sign_valid,
    tencent_tc3_authorization_valid,
)
from suppliers.transport import BalanceUnavailable

# One receiver serves the module: starting and stopping uvicorn costs ~0.2 s per test otherwise.
pytestmark = pytest.mark.asyncio(loop_scope="module")

T0 = datetime(2026, 11, 25, 8, 0, 0, tzinfo=UTC)
ALIYUN_OK = {"Code": "OK", "Message": "OK", "BizId": "9006197469364984^0", "RequestId": "F6"}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_receiver() -> AsyncIterator[SupplierReceiver]:
    async with running_receiver() as receiver:
        yield receiver


@pytest.fixture
def receiver(shared_receiver: SupplierReceiver) -> SupplierReceiver:
    shared_receiver.reset()
    return shared_receiver


# --- Alibaba ---------------------------------------------------------------------------------
async def test_aliyun_submit_is_a_signed_send_sms_carrying_our_id(
    receiver: SupplierReceiver,
) -> None:
    receiver.reset(json_reply(200, ALIYUN_OK))
    adapter = make_adapter(supplier("aliyun", receiver.base_url), ManualClock(T0))
    outcome = await adapter.submit(otp_request())
    await adapter.aclose()
    assert outcome.accepted
    assert outcome.supplier_message_id == "9006197469364984^0"
    assert outcome.error_class is None
    [sent] = receiver.requests
    assert (sent.method, sent.path) == ("POST", "/")
    params = sent.form()
    assert {k: v for k, v in params.items() if k not in ("SignatureNonce", "Signature")} == {
        "AccessKeyId": "LTAI-test-key",
        "Action": "SendSms",
        "Version": "2017-05-25",
        "Format": "JSON",
        "RegionId": "cn-hangzhou",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "Timestamp": "2026-11-25T08:00:00Z",
        "PhoneNumbers": "13800000001",
        "SignName": "阿里云",
        "TemplateCode": "SMS_153055065",
        "TemplateParam": '{"code":"1234","minutes":"5"}',
        "OutId": "msg-000001",
    }
    uuid.UUID(params["SignatureNonce"])
    assert aliyun_rpc_signature_valid("POST", params, ALIYUN_SECRET)


async def test_aliyun_nonce_is_fresh_per_submit_and_international_numbers_keep_country_code(
    receiver: SupplierReceiver,
) -> None:
    receiver.reset(json_reply(200, ALIYUN_OK))
    adapter = make_adapter(supplier("aliyun", receiver.base_url), ManualClock(T0))
    await adapter.submit(otp_request())
    await adapter.submit(otp_request(phone="+85291234567"))
    await adapter.aclose()
    first, second = (sent.form() for sent in receiver.requests)
    assert first["SignatureNonce"] != second["SignatureNonce"]
    assert second["PhoneNumbers"] == "85291234567"


@pytest.mark.parametrize(
    ("reply", "code", "error_class", "retry_after"),
    [
        (
            json_reply(
                200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1"}
            ),
            "isv.BUSINESS_LIMIT_CONTROL",
            SubmitErrorClass.RECIPIENT_LIMIT,
            None,
        ),
        (
            json_reply(400, {"Code": "Throttling.User", "Message": "flow"}, **{"Retry-After": "2"}),
            "Throttling.User",
            SubmitErrorClass.THROTTLED,
            2.0,
        ),
        (
            json_reply(200, {"Code": "isv.AMOUNT_NOT_ENOUGH", "Message": "余额不足"}),
            "isv.AMOUNT_NOT_ENOUGH",
            SubmitErrorClass.SUPPLIER_WIDE,
            None,
        ),
        (
            json_reply(500, {"Code": "InternalError", "Message": "oops"}),
            "InternalError",
            SubmitErrorClass.RETRIABLE,
            None,
        ),
        (
            json_reply(400, {"Code": "isv.NEW_CODE_NOBODY_KNOWS"}),
            "isv.NEW_CODE_NOBODY_KNOWS",
            SubmitErrorClass.PERMANENT,
            None,
        ),
        (
            Reply(502, b"<html>bad gateway</html>", content_type="text/html"),
            "http_502",
            SubmitErrorClass.RETRIABLE,
            None,
        ),
    ],
)
async def test_aliyun_refusal_is_an_outcome_with_its_code_and_class(
    reply: Reply,
    code: str,
    error_class: SubmitErrorClass,
    retry_after: float | None,
    receiver: SupplierReceiver,
) -> None:
    receiver.reset(reply)
    adapter = make_adapter(supplier("aliyun", receiver.base_url), ManualClock(T0))
    outcome = await adapter.submit(otp_request())
    await adapter.aclose()
    assert not outcome.accepted
    assert (outcome.error_code, outcome.error_class) == (code, error_class)
    assert outcome.retry_after_s == retry_after
    assert outcome.supplier_message_id is None


async def test_aliyun_has_no_balance_api() -> None:
    adapter = make_adapter(supplier("aliyun"), ManualClock(T0))
    assert await adapter.balance() is None
    await adapter.aclose()


# --- network failures (shared by every adapter) --------------------------------------------
async def test_silent_supplier_is_a_timeout_outcome(receiver: SupplierReceiver) -> None:
    receiver.reset(Reply(200, b"{}", delay_s=5.0))
    settings = supplier("aliyun", receiver.base_url, timeout_s=0.2)
    adapter = make_adapter(settings, ManualClock(T0))
    outcome = await adapter.submit(otp_request())
    await adapter.aclose()
    assert not outcome.accepted
    assert (outcome.error_code, outcome.error_class) == ("timeout", SubmitErrorClass.TIMEOUT)


@pytest.mark.parametrize("dialect", ["aliyun", "tencent", "twilio", "cmpp"])
async def test_refused_connection_is_retriable_elsewhere(dialect: str) -> None:
    adapter = make_adapter(supplier(dialect, f"http://127.0.0.1:{free_port()}"), ManualClock(T0))
    outcome = await adapter.submit(otp_request())
    await adapter.aclose()
    assert not outcome.accepted
    assert (outcome.error_code, outcome.error_class) == (
        "connect_error",
        SubmitErrorClass.RETRIABLE,
    )


async def test_submits_in_flight_never_exceed_max_concurrency() -> None:
    async with running_receiver(Reply(200, b'{"Code":"OK","BizId":"1"}', delay_s=0.05)) as receiver:
        adapter = make_adapter(
            supplier("aliyun", receiver.base_url, max_concurrency=2), ManualClock(T0)
        )
        outcomes = await asyncio.gather(*(adapter.submit(otp_request(f"m{i}")) for i in range(6)))
        await adapter.aclose()
    assert all(outcome.accepted for outcome in outcomes)
    assert len(receiver.requests) == 6
    assert receiver.max_in_flight == 2


# --- Tencent ---------------------------------------------------------------------------------
TENCENT_OK = {
    "Response": {
        "SendStatusSet": [
            {
                "SerialNo": "5000:1045710669157053657849499619",
                "PhoneNumber": "+8613800000001",
                "Fee": 1,
                "SessionContext": "msg-000001",
                "Code": "Ok",
                "Message": "send success",
                "IsoCode": "CN",
            }
        ],
        "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279",
    }
}


async def test_tencent_submit_is_tc3_signed_json_with_positional_params(
    receiver: SupplierReceiver,
) -> None:
    receiver.reset(json_reply(200, TENCENT_OK))
    adapter = make_adapter(supplier("tencent", receiver.base_url), ManualClock(T0))
    outcome = await adapter.submit(otp_request())
    await adapter.aclose()
    assert outcome.accepted
    assert outcome.supplier_message_id == "5000:1045710669157053657849499619"
    assert outcome.segments == 1
    [sent] = receiver.requests
    assert sent.json() == {
        "PhoneNumberSet": ["+8613800000001"],
        "SmsSdkAppId": "1400006666",
        "TemplateId": "SMS_153055065",
        "SignName": "阿里云",
        "SessionContext": "msg-000001",
        "TemplateParamSet": ["1234", "5"],
    }
    headers = sent.headers
    assert headers["x-tc-action"] == "SendSms"
    assert headers["x-tc-version"] == "2021-01-11"
    assert headers["x-tc-region"] == "ap-guangzhou"
    assert headers["x-tc-timestamp"] == str(int(T0.timestamp()))
    assert headers["authorization"].startswith(
        "TC3-HMAC-SHA256 Credential=AKID-test/2026-11-25/sms/tc3_request"
    )
    assert tencent_tc3_authorization_valid(
        headers["authorization"],
        TENCENT_SECRET,
        headers["host"],
        int(headers["x-tc-timestamp"]),
        sent.body,
        headers["content-type"],
    )


@pytest.mark.parametrize(
    ("answer", "code", "error_class"),
    [
        (
            {"Response": {"SendStatusSet": [{"Code": "LimitExceeded.PhoneNumberDailyLimit"}]}},
            "LimitExceeded.PhoneNumberDailyLimit",
            SubmitErrorClass.RECIPIENT_LIMIT,
        ),
        (
            {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "x"}}},
            "AuthFailure.SignatureFailure",
            SubmitErrorClass.SUPPLIER_WIDE,
        ),
        (
            {"Response": {"Error": {"Code": "FailedOperation.MarketingSendTimeConstraint"}}},
            "FailedOperation.MarketingSendTimeConstraint",
            SubmitErrorClass.DEFERRED,
        ),
        # An answer we cannot read may still have been taken: as unknown as a timeout.
        ({"Response": {"RequestId": "r"}}, "http_200", SubmitErrorClass.TIMEOUT),
    ],
)
async def test_tencent_refusal_is_classified(
    answer: dict[str, object],
    code: str,
    error_class: SubmitErrorClass,
    receiver: SupplierReceiver,
) -> None:
    receiver.reset(json_reply(200, answer))
    adapter = make_adapter(supplier("tencent", receiver.base_url), ManualClock(T0))
    outcome = await adapter.submit(otp_request())
    await adapter.aclose()
    assert not outcome.accepted
    assert (outcome.error_code, outcome.error_class) == (code, error_class)


async def test_tencent_balance_sums_what_is_left_in_every_package(
    receiver: SupplierReceiver,
) -> None:
    packages = {
        "Response": {
            "SmsPackagesStatisticsSet": [
                {"PackageId": 1, "AmountOfPackage": 1000, "CurrentUsage": 250},
                {"PackageId": 2, "AmountOfPackage": 500, "CurrentUsage": 500},
            ],
            "RequestId": "r",
        }
    }
    receiver.reset(json_reply(200, packages))
    adapter = make_adapter(supplier("tencent", receiver.base_url), ManualClock(T0))
    balance = await adapter.balance()
    await adapter.aclose()
    assert balance == Balance(amount=750.0, unit="messages", at=T0)
    [sent] = receiver.requests
    assert sent.headers["x-tc-action"] == "SmsPackagesStatistics"
    assert sent.json()["SmsSdkAppId"] == "1400006666"


async def test_tencent_balance_error_raises_balance_unavailable(receiver: SupplierReceiver) -> None:
    error = {"Response": {"Error": {"Code": "AuthFailure.SecretIdNotFound", "Message": "no"}}}
    receiver.reset(json_reply(200, error))
    adapter = make_adapter(supplier("tencent", receiver.base_url), ManualClock(T0))
    with pytest.raises(BalanceUnavailable, match=r"AuthFailure\.SecretIdNotFound"):
        await adapter.balance()
    await adapter.aclose()


# --- Twilio ----------------------------------------------------------------------------------
TWILIO_CREATED = {
    "sid": "SM" + "b" * 32,
    "account_sid": TWILIO_SID,
    "status": "queued",
    "num_segments": "2",
    "direction": "outbound-api",
    "api_version": "2010-04-01",
}


async def test_twilio_submit_is_a_basic_auth_form_post_with_our_id_in_the_callback(
    receiver: SupplierReceiver,
) -> None:
    receiver.reset(json_reply(201, TWILIO_CREATED))
    adapter = make_adapter(supplier("twilio", receiver.base_url), ManualClock(T0))
    outcome = await adapter.submit(otp_request("msg-000009"))
    await adapter.aclose()
    assert outcome.accepted
    assert outcome.supplier_message_id == "SM" + "b" * 32
    assert outcome.segments == 2
    [sent] = receiver.requests
    assert sent.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    expected_auth = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    assert sent.headers["authorization"] == f"Basic {expected_auth}"
    assert sent.form() == {
        "To": "+8613800000001",
        "Body": "【阿里云】您的验证码是1234，5分钟内有效。",
        "From": "+15005550006",
        # The callback's own `mid` is replaced by this message's id, never doubled.
        "StatusCallback": "https://receipts.example.com/v1/callbacks/sup?mid=msg-000009",
    }


async def test_twilio_messaging_service_is_used_as_sender_when_configured(
    receiver: SupplierReceiver,
) -> None:
    service_sid = "MG" + "c" * 32
    receiver.reset(json_reply(201, TWILIO_CREATED))
    settings = supplier(
        "twilio",
        receiver.base_url,
        account={"from_number": None, "messaging_service_sid": service_sid},
    )
    adapter = make_adapter(settings, ManualClock(T0))
    await adapter.submit(otp_request())
    await adapter.aclose()
    form = receiver.requests[0].form()
    assert form["MessagingServiceSid"] == service_sid
    assert "From" not in form


@pytest.mark.parametrize(
    ("reply", "code", "error_class", "retry_after"),
    [
        (
            json_reply(
                429,
                {"code": 20429, "message": "Too Many Requests", "status": 429},
                **{"Retry-After": "1"},
            ),
            "20429",
            SubmitErrorClass.THROTTLED,
            1.0,
        ),
        (
            json_reply(400, {"code": 21610, "message": "unsubscribed", "status": 400}),
            "21610",
            SubmitErrorClass.PERMANENT,
            None,
        ),
        (
            json_reply(401, {"code": 20003, "message": "Authenticate", "status": 401}),
            "20003",
            SubmitErrorClass.SUPPLIER_WIDE,
            None,
        ),
        (Reply(503, b"", content_type="text/plain"), "http_503", SubmitErrorClass.RETRIABLE, None),
    ],
)
async def test_twilio_refusal_is_classified(
    reply: Reply,
    code: str,
    error_class: SubmitErrorClass,
    retry_after: float | None,
    receiver: SupplierReceiver,
) -> None:
    receiver.reset(reply)
    adapter = make_adapter(supplier("twilio", receiver.base_url), ManualClock(T0))
    outcome = await adapter.submit(otp_request())
    await adapter.aclose()
    assert (outcome.accepted, outcome.error_code, outcome.error_class) == (
        False,
        code,
        error_class,
    )
    assert outcome.retry_after_s == retry_after


async def test_twilio_balance_reads_balance_json(receiver: SupplierReceiver) -> None:
    answer = {"account_sid": TWILIO_SID, "balance": "12.34", "currency": "USD"}
    receiver.reset(json_reply(200, answer))
    adapter = make_adapter(supplier("twilio", receiver.base_url), ManualClock(T0))
    balance = await adapter.balance()
    await adapter.aclose()
    assert balance == Balance(amount=12.34, unit="USD", at=T0)
    [sent] = receiver.requests
    assert (sent.method, sent.path) == ("GET", f"/2010-04-01/Accounts/{TWILIO_SID}/Balance.json")


async def test_twilio_balance_refused_raises_balance_unavailable(
    receiver: SupplierReceiver,
) -> None:
    receiver.reset(json_reply(401, {"code": 20003}))
    adapter = make_adapter(supplier("twilio", receiver.base_url), ManualClock(T0))
    with pytest.raises(BalanceUnavailable, match="401"):
        await adapter.balance()
    await adapter.aclose()


# --- CMPP-ish --------------------------------------------------------------------------------
CMPP_OK = {
    "code": 0,
    "msg": "ok",
    "results": [{"mobile": "13800000001", "msgid": "2611250800000001", "segments": 1, "result": 0}],
}


async def test_cmpp_submit_is_a_signed_form_carrying_our_id(receiver: SupplierReceiver) -> None:
    receiver.reset(json_reply(200, CMPP_OK))
    adapter = make_adapter(supplier("cmpp", receiver.base_url), ManualClock(T0))
    outcome = await adapter.submit(otp_request())
    await adapter.aclose()
    assert outcome.accepted
    assert (outcome.supplier_message_id, outcome.segments) == ("2611250800000001", 1)
    [sent] = receiver.requests
    assert (sent.method, sent.path) == ("POST", "/cmpp/submit")
    form = sent.form()
    assert form["account"] == "acct01"
    assert form["ts"] == str(int(T0.timestamp()))
    assert cmpp_submit_sign_valid(CMPP_SECRET, "acct01", form["ts"], form["sign"])
    assert form["content"] == "【阿里云】您的验证码是1234，5分钟内有效。"
    assert form["client_msgid"] == "msg-000001"


@pytest.mark.parametrize(
    ("reply", "code", "error_class"),
    [
        (
            json_reply(200, {"code": 0, "msg": "ok", "results": [{"mobile": "1", "result": 8}]}),
            "8",
            SubmitErrorClass.THROTTLED,
        ),
        (
            json_reply(200, {"code": 0, "msg": "ok", "results": [{"mobile": "1", "result": 10}]}),
            "10",
            SubmitErrorClass.SUPPLIER_WIDE,
        ),
        (
            json_reply(200, {"code": 0, "msg": "ok", "results": [{"mobile": "1", "result": 14}]}),
            "14",
            SubmitErrorClass.PERMANENT,
        ),
        (json_reply(401, {"code": "AUTH"}), "AUTH", SubmitErrorClass.SUPPLIER_WIDE),
        (json_reply(429, {"code": 8}), "8", SubmitErrorClass.THROTTLED),
    ],
)
async def test_cmpp_refusal_is_classified(
    reply: Reply,
    code: str,
    error_class: SubmitErrorClass,
    receiver: SupplierReceiver,
) -> None:
    receiver.reset(reply)
    adapter = make_adapter(supplier("cmpp", receiver.base_url), ManualClock(T0))
    outcome = await adapter.submit(otp_request())
    await adapter.aclose()
    assert (outcome.accepted, outcome.error_code, outcome.error_class) == (
        False,
        code,
        error_class,
    )
