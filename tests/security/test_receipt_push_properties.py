"""Receipt pushes of every dialect, however broken, are answered 2xx or 4xx: never 5xx, never hung.

Pushes go over HTTP to the served receipt gateway, signed (or carrying the callback token) as
the supplier would, so the body reaches the dialect's parser rather than stopping at the
signature check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from hostile_input import (
    HTTP_TIMEOUT_S,
    PROPERTY_SETTINGS,
    hostile_bodies,
    nested,
    shaped,
)
from hypothesis import given
from hypothesis import strategies as st
from security_world import (
    ALIYUN_CALLBACK_TOKEN,
    CMPP_SECRET,
    PUBLIC_RECEIPTS_URL,
    TENCENT_CALLBACK_TOKEN,
    TWILIO_AUTH_TOKEN,
    Stack,
)

from suppliers.signing import (
    cmpp_batch_push_signature,
    cmpp_push_signature,
    twilio_signature,
)

Push = tuple[str, dict[str, str]]  # path with query, headers

times = st.datetimes().map(lambda at: at.strftime("%Y-%m-%d %H:%M:%S")) | st.text(max_size=20)
compact_times = st.datetimes().map(lambda at: at.strftime("%Y%m%d%H%M%S")) | st.text(max_size=14)
ids = st.text(min_size=1, max_size=40)

ALIYUN_REPORT = shaped(
    {
        "biz_id": ids,
        "success": st.booleans(),
        "err_code": st.sampled_from(["DELIVERED", "MK:0001", "UNDELIV"]),
        "phone_number": st.text(max_size=15),
        "report_time": times,
        "out_id": ids,
    }
)
TENCENT_REPORT = shaped(
    {
        "sid": ids,
        "report_status": st.sampled_from(["SUCCESS", "FAIL", "PENDING"]),
        "user_receive_time": times,
        "nationcode": st.just("86"),
        "mobile": st.text(max_size=15),
        "errmsg": st.text(max_size=20),
    }
)
CMPP_REPORT = shaped(
    {
        "msgid": ids,
        "stat": st.sampled_from(["DELIVRD", "UNDELIV", "ENROUTE", "EXPIRED"]),
        "done_date": compact_times,
        "client_msgid": ids,
    }
)
FORM_FIELDS = st.dictionaries(
    st.sampled_from(["MessageSid", "MessageStatus", "SmsStatus", "ErrorCode", "RawDlrDoneDate"])
    | st.sampled_from(["msgid", "stat", "done_date", "mobile", "err"])
    | st.text(max_size=8),
    st.text(max_size=30) | compact_times,
)
FORMS = FORM_FIELDS.map(lambda fields: urlencode(fields).encode()) | hostile_bodies(shaped({}))


def aliyun(body: bytes) -> Push:
    return f"/v1/callbacks/aliyun-main?token={ALIYUN_CALLBACK_TOKEN}", _json()


def tencent(body: bytes) -> Push:
    return f"/v1/callbacks/tencent-main?token={TENCENT_CALLBACK_TOKEN}", _json()


def twilio(body: bytes) -> Push:
    path = "/v1/callbacks/twilio-us"
    form = parse_qsl(body.decode(errors="replace"), keep_blank_values=True)
    signature = twilio_signature(TWILIO_AUTH_TOKEN, PUBLIC_RECEIPTS_URL + path, form)
    return path, {**_form(), "X-Twilio-Signature": signature}


def cmpp(body: bytes) -> Push:
    if body.lstrip()[:1] == b"[":
        signature = cmpp_batch_push_signature(CMPP_SECRET, body)
    else:
        fields = dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))
        signature = cmpp_push_signature(CMPP_SECRET, fields)
    return "/v1/callbacks/cmpp-gw", {**_form(), "X-Sim-Signature": signature}


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def _form() -> dict[str, str]:
    return {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.urls["receipts"], timeout=HTTP_TIMEOUT_S) as client:
        yield client


def push(gateway: httpx.Client, sign: Callable[[bytes], Push], body: bytes) -> httpx.Response:
    path, headers = sign(body)
    return gateway.post(path, content=body, headers=headers)


def assert_answered(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"


@PROPERTY_SETTINGS
@given(body=hostile_bodies(ALIYUN_REPORT))
def test_aliyun_pushes_are_answered_without_a_server_error(
    gateway: httpx.Client, body: bytes
) -> None:
    assert_answered(push(gateway, aliyun, body))


@PROPERTY_SETTINGS
@given(body=hostile_bodies(TENCENT_REPORT))
def test_tencent_pushes_are_answered_without_a_server_error(
    gateway: httpx.Client, body: bytes
) -> None:
    assert_answered(push(gateway, tencent, body))


@PROPERTY_SETTINGS
@given(body=FORMS)
def test_twilio_pushes_are_answered_without_a_server_error(
    gateway: httpx.Client, body: bytes
) -> None:
    assert_answered(push(gateway, twilio, body))


@PROPERTY_SETTINGS
@given(body=FORMS | hostile_bodies(CMPP_REPORT))
def test_cmpp_pushes_are_answered_without_a_server_error(
    gateway: httpx.Client, body: bytes
) -> None:
    assert_answered(push(gateway, cmpp, body))


@pytest.mark.parametrize(
    ("sign", "body"),
    [
        (aliyun, b'[{"biz_id":"b1","success":true,"report_time":"0001-01-01 00:00:00"}]'),
        (
            tencent,
            b'[{"sid":"s1","report_status":"SUCCESS","user_receive_time":"0001-01-01 00:00:00"}]',
        ),
        (cmpp, b"msgid=m1&stat=DELIVRD&done_date=00010101000000"),
    ],
    ids=["aliyun", "tencent", "cmpp"],
)
def test_a_report_time_before_year_one_in_utc_is_refused_naming_it(
    gateway: httpx.Client, sign: Callable[[bytes], Push], body: bytes
) -> None:
    """Beijing midnight of 1 January year 1 is in year 0 in UTC, which Python cannot hold."""
    answer = push(gateway, sign, body)
    assert answer.status_code == 400
    assert "out of range" in answer.text


@pytest.mark.parametrize("sign", [aliyun, tencent, cmpp], ids=["aliyun", "tencent", "cmpp"])
def test_a_push_nested_past_the_decoders_limit_is_refused(
    gateway: httpx.Client, sign: Callable[[bytes], Push]
) -> None:
    """An unknown field holding [[[[...]]]]: the decoder skips it, recursing, until its limit."""
    body = b'[{"zz":' + nested(5000) + b',"biz_id":"b","sid":"s","msgid":"m","stat":"DELIVRD"}]'
    answer = push(gateway, sign, body)
    assert answer.status_code == 400
    assert "nested too deeply" in answer.text
