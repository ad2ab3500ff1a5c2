"""Event batches, supplier logs, posted alerts and voice reports: any body gets 2xx or 4xx.

Bodies go over HTTP to the served control plane, as NDJSON or JSON, with the token that lets
them in, so they reach the decoders. A refusal must be a JSON body saying what is wrong.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from hostile_input import (
    HTTP_TIMEOUT_S,
    PROPERTY_SETTINGS,
    hostile_bodies,
    json_values,
    nested,
    shaped,
)
from hypothesis import given
from hypothesis import strategies as st
from security_world import ADMIN_TOKEN, VOICE_CALLBACK_TOKEN, Stack

from controlplane.storage import Database, SupplierLogRepository
from smsplatform.contracts import EVENT_KINDS, MAX_FIELDS_NESTING
from smsplatform.database.columns import TEXT_CHARS

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CONTENT_TYPES = ["application/x-ndjson", "application/json", "text/plain", ""]
times = st.datetimes().map(lambda at: at.isoformat() + "Z") | st.text(max_size=30)
words = st.text(min_size=1, max_size=20)

EVENTS = {
    "receipts": shaped(
        {
            "message_id": words,
            "supplier": words,
            "carrier": words,
            "message_class": st.sampled_from(["otp", "marketing"]),
            "status": st.sampled_from(["DELIVERED", "FAILED"]),
            "submitted_at": times,
            "reported_at": times,
            "weight": st.floats(),
        }
    ),
    "submits": shaped(
        {
            "message_id": words,
            "supplier": words,
            "carrier": words,
            "message_class": st.just("otp"),
            "accepted": st.booleans(),
            "latency_ms": st.floats(),
            "at": times,
        }
    ),
    "logs": shaped(
        {
            "supplier": words,
            "level": st.sampled_from(["INFO", "ERROR"]),
            "code": st.text(max_size=200),
            "text": st.text(),
            "at": times,
            "fields": st.dictionaries(st.text(max_size=5), json_values),
        }
    ),
    "probes": shaped({"probe": words, "target": words, "ok": st.booleans(), "at": times}),
}
POSTED_ALERT = shaped(
    {
        "labels": st.dictionaries(st.text(max_size=10), json_values),
        "annotations": st.dictionaries(st.text(max_size=10), json_values),
        "startsAt": times,
        "endsAt": times,
        "generatorURL": st.text(max_size=20),
    }
)
VOICE_REPORT = shaped(
    {
        "call_id": words,
        "status_code": st.sampled_from(["300000", "200000", "200005", 300000]),
        "out_id": words,
        "dtmf": st.sampled_from(["1", "1#", "2"]),
        "callee": st.text(max_size=15),
    }
)


def ndjson(events: list[Any]) -> bytes:
    return b"\n".join(orjson.dumps(event) for event in events)


@pytest.fixture(scope="module")
def control_plane(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.urls["controlplane"], timeout=HTTP_TIMEOUT_S) as client:
        yield client


def assert_answered(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        assert "error" in response.json(), response.text[:300]


@PROPERTY_SETTINGS
@given(
    kind=st.sampled_from(sorted(EVENTS)),
    content_type=st.sampled_from(CONTENT_TYPES),
    data=st.data(),
)
def test_event_batches_are_answered_without_a_server_error(
    control_plane: httpx.Client, kind: str, content_type: str, data: st.DataObject
) -> None:
    body = data.draw(
        hostile_bodies(EVENTS[kind]) | st.lists(EVENTS[kind], min_size=1, max_size=3).map(ndjson)
    )
    headers = {**AUTH, "Content-Type": content_type}
    assert_answered(control_plane.post(f"/v1/events/{kind}", content=body, headers=headers))


@PROPERTY_SETTINGS
@given(body=hostile_bodies(POSTED_ALERT))
def test_posted_alerts_are_answered_without_a_server_error(
    control_plane: httpx.Client, body: bytes
) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    assert_answered(control_plane.post("/api/v2/alerts", content=body, headers=headers))


@PROPERTY_SETTINGS
@given(body=hostile_bodies(VOICE_REPORT))
def test_voice_reports_are_answered_without_a_server_error(
    control_plane: httpx.Client, body: bytes
) -> None:
    headers = {"Content-Type": "application/json", "X-Callback-Token": VOICE_CALLBACK_TOKEN}
    assert_answered(control_plane.post("/v1/callbacks/voice", content=body, headers=headers))


def _log(supplier: str, **changes: Any) -> dict[str, Any]:
    return {
        "supplier": supplier,
        "level": "ERROR",
        "code": "isv.BUSINESS_LIMIT_CONTROL",
        "text": "throttled",
        "at": "2026-11-25T08:00:00Z",
        **changes,
    }


def _nested_fields(depth: int) -> dict[str, Any]:
    fields: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        fields = {"inner": fields}
    return fields


@pytest.mark.parametrize("path", ["/v1/events/logs", "/api/v2/alerts", "/v1/callbacks/voice"])
def test_a_body_nested_past_the_decoders_limit_is_refused(
    control_plane: httpx.Client, path: str
) -> None:
    """[[[[...]]]] inside a free-form value: msgspec stops at its recursion limit."""
    deep = "__deep__"
    inside = {"fields": {"x": deep}} if path.endswith("logs") else {"labels": {"x": deep}}
    event = _log("deep") if path.endswith("logs") else {}
    body = orjson.dumps([{**event, **inside}]).replace(f'"{deep}"'.encode(), nested(5000))
    headers = {**AUTH, "X-Callback-Token": VOICE_CALLBACK_TOKEN}
    answer = control_plane.post(path, content=body, headers=headers)
    assert answer.status_code in (400, 422), answer.text[:300]
    assert "nested too deeply" in answer.text


def test_log_fields_deeper_than_storage_holds_are_refused_at_ingest(
    control_plane: httpx.Client,
) -> None:
    """MariaDB refuses JSON nested about 30 deep: such a line must not be accepted at all, or
    the persister would retry its batch for ever and hold up every line after it."""
    event = _log("deep-fields", fields=_nested_fields(MAX_FIELDS_NESTING + 1))
    answer = control_plane.post("/v1/events/logs", content=orjson.dumps(event), headers=AUTH)
    assert answer.status_code == 422
    assert "fields" in answer.json()["detail"]


def test_logs_at_the_nesting_limit_and_with_huge_text_are_stored(
    stack: Stack, control_plane: httpx.Client
) -> None:
    """What ingest accepts, storage keeps: fields as deep as allowed, and text past MariaDB's
    TEXT (cut to fit) — before, such a line was retried for ever, holding up the lines after it."""
    supplier = f"sec-{uuid.uuid4().hex[:8]}"
    events = [
        _log(supplier, fields=_nested_fields(MAX_FIELDS_NESTING)),
        _log(supplier, text="字" * 70_000, at="2026-11-25T08:00:01Z"),
        _log(supplier, text="after them", at="2026-11-25T08:00:02Z"),
    ]
    answer = control_plane.post("/v1/events/logs", content=ndjson(events), headers=AUTH)
    assert answer.status_code == 202, answer.text[:300]
    database = Database(stack.database_url)
    try:
        repository = SupplierLogRepository(database)
        deadline = time.monotonic() + 15
        while len(stored := repository.recent(supplier)) < len(events):
            assert time.monotonic() < deadline, f"only {len(stored)} of 3 lines stored"
            time.sleep(0.1)
    finally:
        database.dispose()
    texts = sorted(len(line.text) for line in stored)
    assert texts == sorted([len("after them"), len("throttled"), TEXT_CHARS])


def test_every_event_kind_is_exercised() -> None:
    assert set(EVENTS) == set(EVENT_KINDS)
