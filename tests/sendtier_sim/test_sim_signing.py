"""The shared signing primitives against the suppliers' published examples."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from suppliers.signing import (
    Tc3Authorization,
    aliyun_parse_timestamp,
    aliyun_percent_encode,
    aliyun_rpc_signature,
    aliyun_rpc_signature_valid,
    aliyun_timestamp,
    cmpp_batch_push_signature_valid,
    cmpp_push_signature,
    cmpp_push_signature_valid,
    cmpp_push_signed_string,
    cmpp_submit_sign,
    cmpp_submit_sign_valid,
    tencent_tc3_authorization,
    tencent_tc3_authorization_valid,
    twilio_signature,
    twilio_signature_valid,
)


def test_aliyun_signature_matches_the_documented_example() -> None:
    # Alibaba's RPC signature example (DescribeRegions, key "testsecret").
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    signature = aliyun_rpc_signature("GET", params, "testsecret")
    assert signature == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert aliyun_rpc_signature_valid("GET", {**params, "Signature": signature}, "testsecret")
    assert not aliyun_rpc_signature_valid("POST", {**params, "Signature": signature}, "testsecret")


def test_aliyun_percent_encoding_keeps_only_unreserved_characters() -> None:
    assert aliyun_percent_encode("a b*c~d/é") == "a%20b%2Ac~d%2F%C3%A9"
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert aliyun_timestamp(at) == "2026-01-02T03:04:05Z"
    assert aliyun_parse_timestamp("2026-01-02T03:04:05Z") == at


def test_tencent_tc3_matches_the_documented_example() -> None:
    # Tencent Cloud API 3.0 signature example (CVM DescribeInstances, 2019-02-25).
    payload = (
        b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    )
    header = tencent_tc3_authorization(
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        "cvm",
        "cvm.tencentcloudapi.com",
        1551113065,
        payload,
    )
    assert header == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/"
        "tc3_request, SignedHeaders=content-type;host, "
        "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )
    assert Tc3Authorization.parse(header).secret_id == "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
    key = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
    host = "cvm.tencentcloudapi.com"
    assert tencent_tc3_authorization_valid(
        header, key, host, 1551113065, payload, "application/json; charset=utf-8"
    )
    assert not tencent_tc3_authorization_valid(
        header, key, host, 1551113066, payload, "application/json; charset=utf-8"
    )
    assert not tencent_tc3_authorization_valid("Bearer x", key, host, 1551113065, payload)


def test_twilio_signature_matches_the_helper_library_example_with_or_without_port() -> None:
    # twilio-python's request validator test vector.
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    signature = twilio_signature("12345", url, params)
    assert signature == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert twilio_signature_valid("12345", url, params, signature)
    assert twilio_signature_valid(
        "12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", params, signature
    )
    port_signed = twilio_signature(
        "12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", params
    )
    assert twilio_signature_valid("12345", url, params, port_signed)
    assert not twilio_signature_valid("12345", url, {**params, "Digits": "1235"}, signature)
    repeated = [("To", "b"), ("To", "a")]
    assert twilio_signature("t", "u", repeated) == twilio_signature("t", "u", {"To": ["a", "b"]})


def test_cmpp_signs_account_and_timestamp_and_sorted_push_fields() -> None:
    sign = cmpp_submit_sign("secret", "acct", 1700000000)
    assert len(sign) == 64 and cmpp_submit_sign_valid("secret", "acct", "1700000000", sign)
    assert not cmpp_submit_sign_valid("secret", "acct", "1700000001", sign)
    fields = {"msgid": "1", "stat": "DELIVRD", "mobile": "13800000001"}
    signature = cmpp_push_signature("secret", fields)
    assert signature == cmpp_push_signature("secret", dict(reversed(list(fields.items()))))
    assert cmpp_push_signature_valid("secret", fields, signature.upper())
    assert not cmpp_push_signature_valid("secret", {**fields, "stat": "UNDELIV"}, signature)


def test_cmpp_push_values_are_escaped_so_no_two_field_sets_sign_alike() -> None:
    assert cmpp_push_signature("secret", {"a": "1&b=2"}) != cmpp_push_signature(
        "secret", {"a": "1", "b": "2"}
    )
    assert cmpp_push_signature("secret", {"a=1": "2"}) != cmpp_push_signature(
        "secret", {"a": "1=2"}
    )
    # Escaped as Alibaba's percent-encoding: RFC 3986 unreserved characters kept.
    assert cmpp_push_signed_string({"stat": "DELIVRD", "text": "a b&c", "名": "值"}) == (
        "stat=DELIVRD&text=a%20b%26c&%E5%90%8D=%E5%80%BC"
    )


@pytest.mark.parametrize("given", ["签名", "\xe9\xff", "", "a" * 200])
def test_every_check_refuses_a_non_ascii_or_malformed_signature_without_raising(
    given: str,
) -> None:
    fields = {"msgid": "1", "stat": "DELIVRD"}
    assert not cmpp_push_signature_valid("secret", fields, given)
    assert not cmpp_batch_push_signature_valid("secret", b"[]", given)
    assert not cmpp_submit_sign_valid("secret", "acct", 1700000000, given)
    assert not aliyun_rpc_signature_valid("POST", {"Action": "SendSms", "Signature": given}, "s")
    assert not twilio_signature_valid("token", "https://example.com/cb", fields, given)
    authorization = (
        f"TC3-HMAC-SHA256 Credential=id/2026-01-01/sms/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={given}"
    )
    assert not tencent_tc3_authorization_valid(
        authorization, "key", "sms.example.com", 1767225600, b"{}"
    )
