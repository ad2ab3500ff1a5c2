"""Wire contracts: the JSON field names of the issue, strict validation naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smsplatform.contracts import (
    ContractError,
    Receipt,
    SupplierLog,
    decode_batch,
    decode_json,
    encode_batch,
    to_json,
)

RECEIPT = (
    b'{"message_id":"m1","supplier":"aliyun","carrier":"cmcc","message_class":"otp",'
    b'"status":"FAILED","raw_status":"UNDELIV","error_code":"MK:0001",'
    b'"submitted_at":"2026-11-25T08:00:00+08:00","reported_at":"2026-11-25T08:00:04+08:00",'
    b'"received_at":"2026-11-25T00:00:05Z"}'
)


def test_a_receipt_round_trips_through_json_and_the_bus_encoding() -> None:
    receipt = decode_json(Receipt, RECEIPT)
    assert receipt.submitted_at == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    assert decode_json(Receipt, to_json(receipt)) == receipt
    assert decode_batch(Receipt, encode_batch([receipt, receipt])) == [receipt, receipt]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ((b'"status":"FAILED"', b'"status":"failed"'), "status"),
        ((b'"message_class":"otp"', b'"message_class":"promo"'), "message_class"),
        (
            (
                b'"submitted_at":"2026-11-25T08:00:00+08:00"',
                b'"submitted_at":"2026-11-25T08:00:00"',
            ),
            "submitted_at",
        ),
        ((b'"message_id":"m1"', b'"message_id":""'), "message_id"),
        ((b'"carrier":"cmcc",', b""), "carrier"),
        ((b'"message_id":"m1"', b'"message_id":"m1","extra":1'), "extra"),
    ],
)
def test_a_bad_field_is_named(change: tuple[bytes, bytes], field: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode_json(Receipt, RECEIPT.replace(*change))
    assert caught.value.field == field


def test_a_supplier_log_carries_free_form_fields() -> None:
    log = decode_json(
        SupplierLog,
        b'{"supplier":"tencent","level":"WARNING","code":"balance_low","text":"balance 120.5",'
        b'"at":"2026-11-25T00:00:00Z","fields":{"balance":120.5,"currency":"CNY"}}',
    )
    assert log.fields == {"balance": 120.5, "currency": "CNY"}
