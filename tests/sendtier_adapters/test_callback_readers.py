"""Receipt readers verify pushes, parse them into normalized reports, and answer per dialect."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import urlencode

import orjson
import pytest
from adapter_settings import CALLBACK_TOKEN, CMPP_SECRET, TWILIO_TOKEN, supplier

from suppliers.registry import make_callback_reader
from suppliers.signing import (
    cmpp_batch_push_signature,
    cmpp_push_signature,
    twilio_signature,
)

GATEWAY = "https://receipts.example.com/v1/callbacks"


# --- Alibaba ---------------------------------------------------------------------------------
def aliyun_report(**overrides: object) -> dict[str, object]:
    report: dict[str, object] = {
        "phone_number": "13800000001",
        "send_time": "2026-11-25 16:00:00",
        "report_time": "2026-11-25 16:00:05",
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": "9006197469364984^0",
        "out_id": "msg-000001",
    }
    report.update(overrides)
    return report


def test_aliyun_push_of_several_reports_is_normalized() -> None:
    reader = make_callback_reader(supplier("aliyun", callback_token=CALLBACK_TOKEN))
    body = orjson.dumps(
        [
            aliyun_report(),
            aliyun_report(success=False, err_code="MK:0010", biz_id="b2", out_id="msg-2"),
            aliyun_report(success=False, err_code="DB:0144", biz_id="b3", out_id=""),
            aliyun_report(success=False, err_code="MK:0001", biz_id="b4"),
        ]
    )
    reports = reader.parse(f"{GATEWAY}/aliyun-main", {}, body)
    assert [(r.supplier_message_id, r.status, r.error_code) for r in reports] == [
        ("9006197469364984^0", "DELIVERED", None),
        ("b2", "EXPIRED", "MK:0010"),
        ("b3", "REJECTED", "DB:0144"),
        ("b4", "FAILED", "MK:0001"),
    ]
    first = reports[0]
    assert first.raw_status == "DELIVERED"
    assert first.message_id == "msg-000001"
    assert first.phone == "13800000001"
    # Beijing time without a zone → UTC.
    assert first.reported_at == datetime(2026, 11, 25, 8, 0, 5, tzinfo=UTC)
    assert first.extra == {"err_msg": "用户接收成功", "sms_size": "1"}
    assert reports[2].message_id is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b'{"biz_id": "x"}', "body"),  # an object, not an array
        (orjson.dumps([{"success": True}]), "biz_id"),
        (orjson.dumps([aliyun_report(success="yes")]), "success"),
        (orjson.dumps([aliyun_report(biz_id="")]), "biz_id"),
        (orjson.dumps([aliyun_report(report_time="25/11/2026")]), "[0].report_time"),
    ],
)
def test_aliyun_malformed_push_is_refused_naming_the_field(body: bytes, field: str) -> None:
    reader = make_callback_reader(supplier("aliyun", callback_token=CALLBACK_TOKEN))
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        reader.parse(GATEWAY, {}, body)


def test_aliyun_push_is_checked_against_the_callback_token_when_one_is_configured() -> None:
    guarded = make_callback_reader(supplier("aliyun", callback_token=CALLBACK_TOKEN))
    body = orjson.dumps([aliyun_report()])
    assert guarded.verify(f"{GATEWAY}/aliyun-main?token={CALLBACK_TOKEN}", {}, body)
    assert not guarded.verify(f"{GATEWAY}/aliyun-main?token=guess", {}, body)
    assert not guarded.verify(f"{GATEWAY}/aliyun-main", {}, body)
    assert not guarded.verify(f"{GATEWAY}/aliyun-main?token=%E4%BB%A4%E7%89%8C", {}, body)
    # Known by its address instead (the gateway checks it): no token to check here.
    by_address = make_callback_reader(supplier("aliyun", callback_allowed_ips=["192.0.2.0/24"]))
    assert by_address.verify(f"{GATEWAY}/aliyun-main", {}, body)


def test_aliyun_replies_as_alibaba_expects() -> None:
    reader = make_callback_reader(supplier("aliyun", callback_token=CALLBACK_TOKEN))
    ok = reader.reply_ok()
    assert (ok.status_code, orjson.loads(ok.body)) == (200, {"code": 0, "msg": "接收成功"})
    assert reader.reply_retry_later().status_code >= 500
    rejected = reader.reply_rejected("biz_id: required")
    assert rejected.status_code == 400
    assert orjson.loads(rejected.body)["msg"] == "biz_id: required"


# --- Tencent ---------------------------------------------------------------------------------
def tencent_report(**overrides: object) -> dict[str, object]:
    report: dict[str, object] = {
        "user_receive_time": "2015-10-17 08:03:04",
        "nationcode": "86",
        "mobile": "13800000001",
        "report_status": "SUCCESS",
        "errmsg": "DELIVRD",
        "description": "用户短信送达成功",
        "sid": "2019:538884*******93217",
    }
    report.update(overrides)
    return report


def test_tencent_push_is_normalized() -> None:
    reader = make_callback_reader(supplier("tencent", callback_token=CALLBACK_TOKEN))
    body = orjson.dumps(
        [
            tencent_report(),
            tencent_report(report_status="FAIL", errmsg="EXPIRED", sid="s2"),
            tencent_report(report_status="FAIL", errmsg="MI:0079", sid="s3"),
            tencent_report(report_status="FAIL", errmsg="MK:0023", sid="s4"),
        ]
    )
    reports = reader.parse(GATEWAY, {}, body)
    assert [(r.supplier_message_id, r.status, r.raw_status, r.error_code) for r in reports] == [
        ("2019:538884*******93217", "DELIVERED", "DELIVRD", None),
        ("s2", "EXPIRED", "EXPIRED", "EXPIRED"),
        ("s3", "REJECTED", "MI:0079", "MI:0079"),
        ("s4", "FAILED", "MK:0023", "MK:0023"),
    ]
    assert reports[0].phone == "+8613800000001"
    assert reports[0].reported_at == datetime(2015, 10, 17, 0, 3, 4, tzinfo=UTC)
    assert reports[0].message_id is None


def test_tencent_report_with_an_unknown_status_is_refused() -> None:
    reader = make_callback_reader(supplier("tencent", callback_token=CALLBACK_TOKEN))
    with pytest.raises(ValueError, match=r"\[0\]\.report_status"):
        reader.parse(GATEWAY, {}, orjson.dumps([tencent_report(report_status="MAYBE")]))
    with pytest.raises(ValueError, match="sid"):
        reader.parse(GATEWAY, {}, orjson.dumps([{"report_status": "SUCCESS"}]))


def test_tencent_token_check_and_replies() -> None:
    reader = make_callback_reader(supplier("tencent", callback_token=CALLBACK_TOKEN))
    assert reader.verify(f"{GATEWAY}/t?a=1&token={CALLBACK_TOKEN}", {}, b"[]")
    assert not reader.verify(f"{GATEWAY}/t?a=1", {}, b"[]")
    ok = reader.reply_ok()
    assert (ok.status_code, orjson.loads(ok.body)) == (200, {"result": 0, "errmsg": "OK"})
    assert reader.reply_retry_later().status_code >= 500
    assert reader.reply_rejected("bad").status_code == 400


# --- Twilio ----------------------------------------------------------------------------------
TWILIO_URL = f"{GATEWAY}/twilio-main?mid=msg-000042"
SID = "SM" + "a" * 32


def twilio_form(**overrides: str) -> dict[str, str]:
    form = {
        "MessageSid": SID,
        "SmsSid": SID,
        "SmsStatus": "delivered",
        "MessageStatus": "delivered",
        "AccountSid": "AC" + "0" * 32,
        "From": "+15005550006",
        "To": "+8613800000001",
        "ApiVersion": "2010-04-01",
        "RawDlrDoneDate": "2611250801",
    }
    form.update(overrides)
    return form


def signed_twilio_push(form: dict[str, str], url: str = TWILIO_URL) -> tuple[dict[str, str], bytes]:
    return {"X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, form)}, urlencode(
        form
    ).encode()


def test_twilio_push_signed_by_the_auth_token_is_accepted_and_tampering_is_refused() -> None:
    reader = make_callback_reader(supplier("twilio"))
    headers, body = signed_twilio_push(twilio_form())
    assert reader.verify(TWILIO_URL, headers, body)
    # Lower-case header names, as ASGI servers hand them over.
    assert reader.verify(TWILIO_URL, {k.lower(): v for k, v in headers.items()}, body)
    tampered = urlencode(twilio_form(MessageStatus="failed")).encode()
    assert not reader.verify(TWILIO_URL, headers, tampered)
    assert not reader.verify(TWILIO_URL.replace("msg-000042", "msg-000043"), headers, body)
    assert not reader.verify(TWILIO_URL, {}, body)
    forged = {"X-Twilio-Signature": twilio_signature("another-token", TWILIO_URL, twilio_form())}
    assert not reader.verify(TWILIO_URL, forged, body)


def test_twilio_push_with_added_parameters_still_verifies() -> None:
    reader = make_callback_reader(supplier("twilio"))
    headers, body = signed_twilio_push(twilio_form(NewField="x", ErrorCode=""))
    assert reader.verify(TWILIO_URL, headers, body)


@pytest.mark.parametrize(
    ("signed_url", "received_url"),
    [
        ("https://receipts.example.com:443/cb?mid=1", "https://receipts.example.com/cb?mid=1"),
        ("https://receipts.example.com/cb?mid=1", "https://receipts.example.com:443/cb?mid=1"),
        ("http://receipts.example.com/cb?mid=1", "http://receipts.example.com:80/cb?mid=1"),
    ],
)
def test_twilio_signature_verifies_with_or_without_the_default_port(
    signed_url: str, received_url: str
) -> None:
    reader = make_callback_reader(supplier("twilio"))
    headers, body = signed_twilio_push(twilio_form(), url=signed_url)
    assert reader.verify(received_url, headers, body)


def test_twilio_signature_for_another_port_or_scheme_is_refused() -> None:
    reader = make_callback_reader(supplier("twilio"))
    headers, body = signed_twilio_push(twilio_form(), url="https://receipts.example.com/cb")
    assert not reader.verify("https://receipts.example.com:8443/cb", headers, body)
    assert not reader.verify("http://receipts.example.com/cb", headers, body)


def test_twilio_json_webhook_is_bound_by_its_body_hash() -> None:
    reader = make_callback_reader(supplier("twilio"))
    body = b'{"MessageSid": "SM1"}'
    url = f"{GATEWAY}/t?bodySHA256={hashlib.sha256(body).hexdigest()}"
    headers = {"X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, {})}
    assert reader.verify(url, headers, body)
    assert not reader.verify(url, headers, b'{"MessageSid": "SM2"}')


@pytest.mark.parametrize(
    ("status", "error_code", "expected"),
    [
        ("queued", "", None),
        ("accepted", "", None),
        ("scheduled", "", None),
        ("sending", "", None),
        ("sent", "", None),
        ("delivered", "", "DELIVERED"),
        ("read", "", "DELIVERED"),
        ("undelivered", "30003", "FAILED"),
        ("undelivered", "30005", "FAILED"),
        ("undelivered", "30006", "FAILED"),
        ("undelivered", "30007", "REJECTED"),
        ("undelivered", "30008", "FAILED"),
        ("failed", "21610", "REJECTED"),
        ("failed", "30002", "FAILED"),
        ("canceled", "", "FAILED"),
        ("partially_delivered", "30003", "FAILED"),
    ],
)
def test_twilio_status_normalizes_with_its_error_code(
    status: str, error_code: str, expected: str | None
) -> None:
    reader = make_callback_reader(supplier("twilio"))
    form = twilio_form(MessageStatus=status, SmsStatus=status, ErrorCode=error_code)
    [report] = reader.parse(TWILIO_URL, {}, urlencode(form).encode())
    assert report.status == expected
    assert report.raw_status == status
    assert report.error_code == (error_code or None)


def test_twilio_report_carries_our_id_from_the_callback_url_and_the_done_date() -> None:
    reader = make_callback_reader(supplier("twilio"))
    [report] = reader.parse(TWILIO_URL, {}, urlencode(twilio_form()).encode())
    assert report.supplier_message_id == SID
    assert report.message_id == "msg-000042"
    assert report.phone == "+8613800000001"
    assert report.reported_at == datetime(2026, 11, 25, 8, 1, tzinfo=UTC)
    no_date = {k: v for k, v in twilio_form().items() if k != "RawDlrDoneDate"}
    [undated] = reader.parse(f"{GATEWAY}/t", {}, urlencode(no_date).encode())
    assert undated.reported_at is None
    assert undated.message_id is None


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"MessageStatus": "delivered"}, "MessageSid"),
        ({"MessageSid": SID}, "SmsStatus"),
        ({"MessageSid": SID, "MessageStatus": "received"}, "MessageStatus"),
        (
            {"MessageSid": SID, "MessageStatus": "sent", "RawDlrDoneDate": "26-11-25"},
            "RawDlrDoneDate",
        ),
    ],
)
def test_twilio_malformed_push_is_refused_naming_the_field(
    form: dict[str, str], field: str
) -> None:
    reader = make_callback_reader(supplier("twilio"))
    with pytest.raises(ValueError, match=field):
        reader.parse(TWILIO_URL, {}, urlencode(form).encode())


def test_twilio_replies_2xx_when_taken() -> None:
    reader = make_callback_reader(supplier("twilio"))
    assert 200 <= reader.reply_ok().status_code < 300
    assert reader.reply_retry_later().status_code >= 500
    assert reader.reply_rejected("bad signature").status_code == 400


# --- CMPP-ish --------------------------------------------------------------------------------
def cmpp_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "msgid": "2611250800000001",
        "mobile": "13800000001",
        "stat": "DELIVRD",
        "err": "000",
        "submit_date": "2611251600",
        "done_date": "2611251601",
        "sub": "001",
        "dlvrd": "001",
        "client_msgid": "msg-000007",
        "report": "id:2611250800000001 sub:001 dlvrd:001 submit date:2611251600 "
        "done date:2611251601 stat:DELIVRD err:000 text:",
    }
    fields.update(overrides)
    return fields


def test_cmpp_form_push_signed_with_the_secret_is_accepted_and_tampering_is_refused() -> None:
    reader = make_callback_reader(supplier("cmpp"))
    fields = cmpp_fields()
    headers = {"X-Sim-Signature": cmpp_push_signature(CMPP_SECRET, fields)}
    body = urlencode(fields).encode()
    assert reader.verify(GATEWAY, headers, body)
    assert not reader.verify(GATEWAY, headers, urlencode(cmpp_fields(stat="UNDELIV")).encode())
    assert not reader.verify(GATEWAY, {"X-Sim-Signature": "00" * 32}, body)
    assert not reader.verify(GATEWAY, {}, body)


def test_cmpp_fields_that_join_to_the_same_text_as_a_signed_push_do_not_verify() -> None:
    reader = make_callback_reader(supplier("cmpp"))
    signed = cmpp_fields()
    headers = {"X-Sim-Signature": cmpp_push_signature(CMPP_SECRET, signed)}
    # Unescaped, `stat=DELIVRD&sub=001` reads the same as one `stat` of "DELIVRD&sub=001": a
    # delivered report re-sent as that would turn into a failed one under the same signature.
    forged = {key: value for key, value in signed.items() if key != "sub"}
    forged["stat"] = f"{signed['stat']}&sub={signed['sub']}"
    assert reader.verify(GATEWAY, headers, urlencode(signed).encode())
    [report] = reader.parse(GATEWAY, headers, urlencode(forged).encode())
    assert report.status == "FAILED"
    assert not reader.verify(GATEWAY, headers, urlencode(forged).encode())


def test_cmpp_batch_push_is_verified_over_the_raw_body() -> None:
    reader = make_callback_reader(supplier("cmpp"))
    body = orjson.dumps([cmpp_fields(), cmpp_fields(msgid="2", stat="MK:0001")])
    headers = {"x-sim-signature": cmpp_batch_push_signature(CMPP_SECRET, body)}
    assert reader.verify(GATEWAY, headers, body)
    assert not reader.verify(GATEWAY, headers, body.replace(b"MK:0001", b"DELIVRD"))


def test_cmpp_form_push_is_normalized() -> None:
    reader = make_callback_reader(supplier("cmpp"))
    [report] = reader.parse(GATEWAY, {}, urlencode(cmpp_fields()).encode())
    assert report.supplier_message_id == "2611250800000001"
    assert report.status == "DELIVERED"
    assert report.raw_status == "DELIVRD"
    assert report.error_code is None
    assert report.message_id == "msg-000007"
    assert report.phone == "13800000001"
    assert report.reported_at == datetime(2026, 11, 25, 8, 1, tzinfo=UTC)


def test_cmpp_batch_push_is_normalized_report_by_report() -> None:
    reader = make_callback_reader(supplier("cmpp"))
    body = orjson.dumps(
        [
            cmpp_fields(msgid="1", stat="ENROUTE"),
            cmpp_fields(msgid="2", stat="MK:0001"),
            cmpp_fields(msgid="3", stat="REJECTD", err="045"),
            cmpp_fields(msgid="4", stat="UNKNOWN"),
            cmpp_fields(msgid="5", stat="EXPIRED", done_date="261125160130"),
        ]
    )
    reports = reader.parse(GATEWAY, {}, body)
    assert [(r.supplier_message_id, r.status, r.error_code) for r in reports] == [
        ("1", None, None),
        ("2", "FAILED", "MK:0001"),
        ("3", "REJECTED", "REJECTD"),
        ("4", "UNKNOWN", "UNKNOWN"),
        ("5", "EXPIRED", "EXPIRED"),
    ]
    assert reports[2].extra == {"err": "045"}
    assert reports[4].reported_at == datetime(2026, 11, 25, 8, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (urlencode({"stat": "DELIVRD"}).encode(), "msgid"),
        (urlencode({"msgid": "1", "stat": ""}).encode(), "stat"),
        (urlencode(cmpp_fields(done_date="yesterday")).encode(), "done_date"),
        (orjson.dumps([cmpp_fields(done_date="2613251601")]), r"\[0\]\.done_date"),
        (b"[not json", "body"),
    ],
)
def test_cmpp_malformed_push_is_refused_naming_the_field(body: bytes, field: str) -> None:
    reader = make_callback_reader(supplier("cmpp"))
    with pytest.raises(ValueError, match=field):
        reader.parse(GATEWAY, {}, body)


def test_cmpp_replies_ok_body() -> None:
    reader = make_callback_reader(supplier("cmpp"))
    ok = reader.reply_ok()
    assert (ok.status_code, ok.body) == (200, b"OK")
    assert reader.reply_retry_later().status_code >= 500
    assert reader.reply_rejected("bad").status_code == 400
