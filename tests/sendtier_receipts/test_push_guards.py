"""Pushes are taken only from their supplier: unsigned dialects fail closed, allow-lists hold,
and a signature header wrong in any way gets the dialect's 400, never a 500."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import orjson
import pytest
from gateway_helpers import (
    ALIYUN,
    TWILIO,
    aliyun_report,
    gateway,
    metric,
    published,
    settings_for,
    submit_result,
)

from sendtier.stack import build_service_app
from sendtier.storage import Database, SubmitResultRepository
from smsplatform.bus import MemoryBus
from smsplatform.clock import ManualClock
from smsplatform.config.yamlsource import ConfigError
from suppliers.signing import cmpp_push_signature

CMPP = "cmpp-main"
CMPP_SECRET = "cmpp-secret-0123456789"
ACCOUNTS: dict[str, dict[str, str]] = {
    "aliyun": {"dialect": "aliyun", "access_key_id": "ak", "access_key_secret": "s"},
    "tencent": {
        "dialect": "tencent",
        "secret_id": "id",
        "secret_key": "k",
        "sdk_app_id": "1400000000",
    },
    "cmpp": {"dialect": "cmpp", "account": "acct", "secret": CMPP_SECRET},
}


def supplier(name: str, dialect: str, **settings: Any) -> dict[str, Any]:
    return {
        "name": name,
        "account": ACCOUNTS[dialect],
        "base_url": "http://127.0.0.1:1",
        **settings,
    }


@pytest.mark.parametrize("dialect", ["aliyun", "tencent"])
async def test_the_gateway_refuses_to_start_with_an_unsigned_supplier_left_open(
    database: Database, bus: MemoryBus, dialect: str
) -> None:
    settings = settings_for(str(database.url), suppliers=[supplier("open-door", dialect)])

    with pytest.raises(ConfigError) as caught:
        build_service_app("receipts", settings, bus, database)

    [problem] = caught.value.problems
    assert problem.key == "suppliers[open-door].callback_token"
    assert "callback_allowed_ips" in problem.message
    assert "suppliers[open-door].callback_token" in str(caught.value)


async def test_an_unsigned_supplier_with_an_allow_list_takes_pushes_only_from_its_addresses(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    suppliers = [
        supplier("aliyun-near", "aliyun", callback_allowed_ips=["127.0.0.0/8"]),
        supplier("aliyun-far", "aliyun", callback_allowed_ips=["192.0.2.0/24", "2001:db8::/32"]),
    ]
    SubmitResultRepository(database).add_batch(
        [submit_result(1, supplier="aliyun-near"), submit_result(2, supplier="aliyun-far")]
    )
    settings = settings_for(str(database.url), suppliers=suppliers)
    async with gateway(settings, bus, database, clock) as (client, service):
        near = await client.post(
            "/v1/callbacks/aliyun-near", content=orjson.dumps([aliyun_report("biz-1")])
        )
        far = await client.post(
            "/v1/callbacks/aliyun-far", content=orjson.dumps([aliyun_report("biz-2")])
        )

    assert (near.status_code, near.json()["code"]) == (200, 0)
    assert (far.status_code, far.json()["code"]) == (400, 400)
    assert [(r.supplier, r.message_id) for r in await published(bus)] == [
        ("aliyun-near", "m-00001")
    ]
    refused = metric(
        service, "sendtier_receipts_pushes_total", supplier="aliyun-far", outcome="rejected_source"
    )
    assert refused == 1


async def test_an_allow_list_reads_the_connections_address_not_a_forwarded_header(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    suppliers = [supplier("aliyun-far", "aliyun", callback_allowed_ips=["192.0.2.0/24"])]
    SubmitResultRepository(database).add_batch([submit_result(2, supplier="aliyun-far")])
    settings = settings_for(str(database.url), suppliers=suppliers)
    async with gateway(settings, bus, database, clock) as (client, _):
        spoofed = await client.post(
            "/v1/callbacks/aliyun-far",
            content=orjson.dumps([aliyun_report("biz-2")]),
            headers={"X-Forwarded-For": "192.0.2.7", "X-Real-IP": "192.0.2.7"},
        )

    assert (spoofed.status_code, spoofed.json()["code"]) == (400, 400)
    assert await published(bus) == []


def twilio_form(sid: str) -> dict[str, str]:
    return {"MessageSid": sid, "MessageStatus": "undelivered", "To": "+14155550100"}


def cmpp_fields() -> dict[str, str]:
    return {"msgid": "cmpp-1", "stat": "UNDELIV", "mobile": "13800000001"}


# (supplier, path, body, headers): pushes whose signature is non-ASCII or malformed.
BAD_SIGNATURES: dict[str, tuple[str, str, bytes, dict[str, Any]]] = {
    "twilio non-ASCII header": (
        TWILIO,
        f"/v1/callbacks/{TWILIO}",
        urlencode(twilio_form("SM1")).encode(),
        {"X-Twilio-Signature": "签名=".encode()},
    ),
    "twilio Latin-1 header": (
        TWILIO,
        f"/v1/callbacks/{TWILIO}",
        urlencode(twilio_form("SM1")).encode(),
        {"X-Twilio-Signature": b"\xe9\xff"},
    ),
    "twilio non-ASCII body hash": (
        TWILIO,
        f"/v1/callbacks/{TWILIO}?bodySHA256={quote('散列')}",
        b"{}",
        {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
    ),
    "cmpp non-ASCII header": (
        CMPP,
        f"/v1/callbacks/{CMPP}",
        urlencode(cmpp_fields()).encode(),
        {"X-Sim-Signature": "ab签名".encode()},
    ),
    "cmpp batch, non-ASCII header": (
        CMPP,
        f"/v1/callbacks/{CMPP}",
        orjson.dumps([cmpp_fields()]),
        {"X-Sim-Signature": b"\xc3\xa9" * 32},
    ),
    "cmpp truncated header": (
        CMPP,
        f"/v1/callbacks/{CMPP}",
        urlencode(cmpp_fields()).encode(),
        {"X-Sim-Signature": cmpp_push_signature(CMPP_SECRET, cmpp_fields())[:-1]},
    ),
    "aliyun non-ASCII token": (
        ALIYUN,
        f"/v1/callbacks/{ALIYUN}?token={quote('令牌')}",
        orjson.dumps([aliyun_report("biz-1")]),
        {},
    ),
}


@pytest.mark.parametrize("case", list(BAD_SIGNATURES))
async def test_a_non_ascii_or_malformed_signature_gets_the_dialects_400_never_a_500(
    database: Database, bus: MemoryBus, clock: ManualClock, case: str
) -> None:
    name, path, body, headers = BAD_SIGNATURES[case]
    settings = settings_for(str(database.url), suppliers=[supplier(CMPP, "cmpp")])
    async with gateway(settings, bus, database, clock) as (client, service):
        answer = await client.post(path, content=body, headers=headers)

    assert answer.status_code == 400
    rejected = metric(
        service, "sendtier_receipts_pushes_total", supplier=name, outcome="rejected_signature"
    )
    assert rejected == 1
    assert await published(bus) == []
