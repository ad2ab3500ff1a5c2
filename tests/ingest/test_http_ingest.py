"""HTTP ingest: batches land exactly once, bad input is refused whole with a clear error."""

from __future__ import annotations

import orjson
import pytest
from ingest_helpers import (
    ADMIN_TOKEN,
    INGEST_TOKEN,
    NDJSON,
    OPERATOR_TOKEN,
    auth,
    ndjson,
    receipt,
    running,
    settings_for,
)

from controlplane.storage import Database, ReceiptArchive, SubmitResultArchive


def stored_receipts(url: str) -> ReceiptArchive:
    return ReceiptArchive(Database(url))


def test_a_batch_posted_twice_is_stored_once(database_url: str) -> None:
    body = ndjson([receipt(n) for n in range(500)])
    with running(settings_for(database_url)) as (client, _):
        for _ in range(2):
            answer = client.post(
                "/v1/events/receipts", content=body, headers={**NDJSON, **auth(INGEST_TOKEN)}
            )
            assert answer.status_code == 202
            assert answer.json() == {"accepted": 500}
    receipts = stored_receipts(database_url)
    assert receipts.count() == 500
    [stored] = receipts.for_message("msg-000007")
    assert stored.supplier == "tencent" and stored.status == "DELIVERED"
    assert stored.received_at is not None


def test_a_later_status_for_the_same_message_is_a_second_receipt(sqlite_url: str) -> None:
    events = [
        receipt(1, status="UNKNOWN"),
        receipt(1, status="DELIVERED"),
        receipt(1, status="DELIVERED"),
    ]
    with running(settings_for(sqlite_url)) as (client, _):
        answer = client.post(
            "/v1/events/receipts", content=ndjson(events), headers={**NDJSON, **auth(INGEST_TOKEN)}
        )
        assert answer.status_code == 202
    statuses = sorted(r.status for r in stored_receipts(sqlite_url).for_message("msg-000001"))
    assert statuses == ["DELIVERED", "UNKNOWN"]


def test_a_json_array_and_a_single_object_are_accepted(sqlite_url: str) -> None:
    submit = {
        "message_id": "m-1",
        "supplier": "aliyun",
        "carrier": "cmcc",
        "message_class": "otp",
        "accepted": False,
        "error_code": "isv.BUSINESS_LIMIT_CONTROL",
        "latency_ms": 41.5,
        "at": "2026-11-25T08:00:00+08:00",
    }
    with running(settings_for(sqlite_url)) as (client, _):
        one = client.post("/v1/events/submits", json=submit, headers=auth(INGEST_TOKEN))
        many = client.post(
            "/v1/events/submits",
            json=[{**submit, "message_id": "m-2"}, {**submit, "message_id": "m-3"}],
            headers=auth(INGEST_TOKEN),
        )
        assert (one.status_code, many.status_code) == (202, 202)
        assert many.json() == {"accepted": 2}
    [stored] = SubmitResultArchive(Database(sqlite_url)).for_message("m-2")
    assert stored.error_code == "isv.BUSINESS_LIMIT_CONTROL"
    assert stored.at.isoformat() == "2026-11-25T00:00:00+00:00"


def test_a_bad_line_names_line_and_field_and_nothing_of_the_batch_is_taken(sqlite_url: str) -> None:
    events = [receipt(n) for n in range(10)]
    events[6]["status"] = "DELIVRD"  # the supplier's raw word, not a normalized status
    with running(settings_for(sqlite_url)) as (client, _):
        answer = client.post(
            "/v1/events/receipts", content=ndjson(events), headers={**NDJSON, **auth(INGEST_TOKEN)}
        )
        assert answer.status_code == 422
        error = answer.json()
        assert (error["line"], error["field"]) == (7, "status")
        assert "DELIVRD" in error["detail"]
        metrics = client.get("/metrics").text
    assert 'smsctl_events_rejected_total{kind="receipts",reason="invalid"} 1.0' in metrics
    assert stored_receipts(sqlite_url).count() == 0


@pytest.mark.parametrize(
    ("line", "expected_field"),
    [
        (b'{"message_id": "x"', None),  # malformed JSON
        (orjson.dumps({k: v for k, v in receipt(3).items() if k != "carrier"}), "carrier"),
        (orjson.dumps({**receipt(3), "submitted_at": "2026-11-25 08:00:00"}), "submitted_at"),
        (orjson.dumps({**receipt(3), "colour": "blue"}), "colour"),
    ],
)
def test_each_kind_of_bad_line_is_located(
    sqlite_url: str, line: bytes, expected_field: str | None
) -> None:
    body = ndjson([receipt(1), receipt(2)]) + b"\n" + line + b"\n"
    with running(settings_for(sqlite_url)) as (client, _):
        answer = client.post(
            "/v1/events/receipts", content=body, headers={**NDJSON, **auth(INGEST_TOKEN)}
        )
    assert answer.status_code == 422
    assert answer.json()["line"] == 4  # the blank line still counts as a line of the body
    assert answer.json()["field"] == expected_field


def test_a_bad_item_of_a_json_array_is_named_by_position(sqlite_url: str) -> None:
    events = [receipt(1), {**receipt(2), "message_class": "promo"}]
    with running(settings_for(sqlite_url)) as (client, _):
        answer = client.post("/v1/events/receipts", json=events, headers=auth(INGEST_TOKEN))
    assert answer.status_code == 422
    assert (answer.json()["item"], answer.json()["field"]) == (2, "message_class")


def test_an_oversized_body_is_refused_with_413(sqlite_url: str) -> None:
    body = ndjson([receipt(n) for n in range(2000)])  # well over the 256 KiB test limit
    with running(settings_for(sqlite_url)) as (client, _):
        declared = client.post(
            "/v1/events/receipts", content=body, headers={**NDJSON, **auth(INGEST_TOKEN)}
        )
        streamed = client.post(
            "/v1/events/receipts",
            content=iter([body[:100_000], body[100_000:]]),
            headers={**NDJSON, **auth(INGEST_TOKEN)},
        )
    assert declared.status_code == 413 and declared.json()["limit_bytes"] == 256 * 1024
    assert streamed.status_code == 413
    assert stored_receipts(sqlite_url).count() == 0


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({}, 401, "missing bearer token"),
        ({"Authorization": "Basic abc"}, 401, "missing bearer token"),
        (auth("not-a-token-at-all-xyz"), 401, "invalid token"),
        (auth(OPERATOR_TOKEN), 403, "token lacks scope 'ingest'"),
    ],
)
def test_ingest_needs_a_token_with_the_ingest_scope(
    sqlite_url: str, headers: dict[str, str], status: int, error: str
) -> None:
    with running(settings_for(sqlite_url)) as (client, _):
        answer = client.post(
            "/v1/events/receipts", content=ndjson([receipt(1)]), headers={**NDJSON, **headers}
        )
    assert answer.status_code == status
    assert answer.json()["error"] == error
    if status == 401:
        assert answer.headers["www-authenticate"] == "Bearer"


def test_an_admin_token_may_ingest(sqlite_url: str) -> None:
    with running(settings_for(sqlite_url)) as (client, _):
        answer = client.post(
            "/v1/events/receipts",
            content=ndjson([receipt(1)]),
            headers={**NDJSON, **auth(ADMIN_TOKEN)},
        )
    assert answer.status_code == 202


def test_health_and_metrics_need_no_token_and_report_ingest(sqlite_url: str) -> None:
    with running(settings_for(sqlite_url)) as (client, _):
        client.post(
            "/v1/events/receipts",
            content=ndjson([receipt(n) for n in range(3)]),
            headers={**NDJSON, **auth(INGEST_TOKEN)},
        )
        health = client.get("/healthz")
        metrics = client.get("/metrics").text
    assert health.status_code == 200
    assert health.json()["checks"] == {"database": True, "bus": True, "consumers": True}
    assert 'smsctl_events_accepted_total{kind="receipts"} 3.0' in metrics
    assert 'smsctl_bus_pending{subject="sms.receipts"}' in metrics
    assert "smsctl_events_persisted_total" in metrics


def test_an_unknown_event_kind_is_404(sqlite_url: str) -> None:
    with running(settings_for(sqlite_url)) as (client, _):
        answer = client.post("/v1/events/whatever", content=b"{}", headers=auth(INGEST_TOKEN))
    assert answer.status_code == 404
    assert "receipts" in answer.json()["kinds"]
