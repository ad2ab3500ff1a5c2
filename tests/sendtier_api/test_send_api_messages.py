"""Sending through the API: validation that names the field, numbers, carriers, batches, auth."""

from __future__ import annotations

from typing import Any

import pytest
from sendtier_api_helpers import BANK_TOKEN, SHOP_TOKEN, api_settings, auth, otp, serving


async def test_a_valid_message_is_accepted_and_put_on_the_bus_once(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        answer = await api.send(otp("138 0000 0001", code="204816"))
        assert answer.status_code == 202
        body = answer.json()
        assert body["phone"] == "+8613800000001"
        assert body["carrier"] == "cmcc"
        assert body["message_class"] == "otp"
        assert body["segments"] == 1
        [message] = await api.published()
    assert message.message_id == body["message_id"]
    assert message.tenant == "shop"
    assert message.sign_name == "好店"
    assert message.template_id == "otp_login"
    assert message.template_params == {"code": "204816"}
    assert message.content == "【好店】您的验证码是204816，5分钟内有效。"
    assert message.accepted_at == api.clock.now()
    assert message.pinned_supplier is None


async def test_message_ids_are_unique_and_ordered_by_acceptance(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        ids = []
        for n in range(20):
            answer = await api.send(otp(f"1380000{n:04d}"))
            ids.append(answer.json()["message_id"])
            api.clock.advance(0.0005)
    assert len(set(ids)) == 20
    assert ids == sorted(ids)


@pytest.mark.parametrize(
    ("change", "field", "error_part"),
    [
        ({"phone": "12345"}, "phone", "not a valid number"),
        ({"phone": "not a number"}, "phone", "not a phone number"),
        ({"phone": "+86 10 6552 9988"}, "phone", "not a mobile number"),
        ({"template_id": "no_such_template"}, "template_id", "unknown template"),
        ({"template_id": "promo"}, "params.discount", "needs parameter"),
        ({"params": {}}, "params.code", "needs parameter 'code'"),
        ({"params": {"code": "1", "name": "x"}}, "params.name", "has no parameter 'name'"),
        ({"params": {"code": 123456}}, "params", "Expected `str`"),
        ({"signature": "别人的签名"}, "signature", "not approved"),
        ({"message_class": "marketing"}, "message_class", "for otp messages"),
        ({"message_class": "spam"}, "message_class", "Invalid enum value 'spam'"),
        ({"carrier": "vodafone"}, "carrier", "Invalid enum value"),
        ({"supplier": "nobody"}, "supplier", "unknown supplier"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
async def test_an_invalid_message_is_refused_with_422_naming_the_field(
    sqlite_url: str, change: dict[str, Any], field: str, error_part: str
) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        answer = await api.send({**otp(), **change})
        assert answer.status_code == 422
        body = answer.json()
        assert body["field"] == field
        assert error_part in body["error"] + body.get("detail", "")
        assert await api.published() == []


async def test_a_template_of_another_tenant_is_unknown_to_this_one(sqlite_url: str) -> None:
    promo = {"phone": "13800000001", "template_id": "promo", "params": {"discount": "8"}}
    async with serving(api_settings(sqlite_url)) as api:
        assert (await api.send(promo, token=SHOP_TOKEN)).status_code == 202
        refused = await api.send(promo, token=BANK_TOKEN)
    assert refused.status_code == 422
    assert refused.json()["field"] == "template_id"


async def test_content_longer_than_the_maximum_is_refused(sqlite_url: str) -> None:
    settings = api_settings(sqlite_url, api={"max_content_chars": 100})
    signature_chars = len("【好店】")
    fits = "字" * (100 - signature_chars)
    async with serving(settings) as api:
        ok = await api.send(
            {"phone": "13800000001", "template_id": "free_text", "params": {"text": fits}}
        )
        too_long = await api.send(
            {"phone": "13800000001", "template_id": "free_text", "params": {"text": fits + "字"}}
        )
    assert ok.status_code == 202
    assert ok.json()["segments"] == 2  # 100 chars of UCS-2: ⌈100/67⌉
    assert too_long.status_code == 422
    assert too_long.json()["field"] == "params"
    assert too_long.json()["content_chars"] == 101


@pytest.mark.parametrize(("text_chars", "segments"), [(66, 1), (67, 2), (130, 2), (131, 3)])
async def test_segments_count_the_signature_with_its_brackets(
    sqlite_url: str, text_chars: int, segments: int
) -> None:
    # 【好店】 is 4 characters: 66 + 4 = 70 → 1; 71 → 2; 134 → 2; 135 → 3.
    body = {
        "phone": "13800000001",
        "template_id": "free_text",
        "params": {"text": "短" * text_chars},
    }
    async with serving(api_settings(sqlite_url)) as api:
        answer = await api.send(body)
        [message] = await api.published()
    assert answer.json()["segments"] == segments
    assert message.segments == segments


@pytest.mark.parametrize(
    "typed",
    ["13800000001", "+86 13800000001", "0086 13800000001", "86-138-0000-0001", "+86138 0000 0001"],
)
async def test_numbers_are_normalized_to_e164(sqlite_url: str, typed: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        answer = await api.send(otp(typed))
    assert answer.status_code == 202
    assert answer.json()["phone"] == "+8613800000001"


@pytest.mark.parametrize(
    ("phone", "carrier"),
    [
        ("13800000001", "cmcc"),
        ("13000000001", "cucc"),
        ("13300000001", "ctcc"),
        ("19200000001", "cbn"),
    ],
)
async def test_the_carrier_comes_from_the_numbering_plan(
    sqlite_url: str, phone: str, carrier: str
) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        answer = await api.send(otp(phone))
    assert answer.json()["carrier"] == carrier


async def test_the_prefix_table_and_the_request_override_the_carrier(sqlite_url: str) -> None:
    settings = api_settings(sqlite_url, api={"carrier_prefixes": {"861380000": "ctcc"}})
    async with serving(settings) as api:
        from_table = await api.send(otp("13800000001"))
        outside_table = await api.send(otp("13810000001"))
        from_request = await api.send(otp("13800000002", carrier="cucc"))
        messages = await api.published()
    assert from_table.json()["carrier"] == "ctcc"
    assert outside_table.json()["carrier"] == "cmcc"
    assert from_request.json()["carrier"] == "cucc"
    assert [m.carrier for m in messages] == ["ctcc", "cmcc", "cucc"]


async def test_a_chosen_signature_and_a_pinned_supplier_travel_with_the_message(
    sqlite_url: str,
) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        answer = await api.send(otp(signature="好店商城", supplier="aliyun"))
        [message] = await api.published()
    assert answer.status_code == 202
    assert message.sign_name == "好店商城"
    assert message.content.startswith("【好店商城】")
    assert message.pinned_supplier == "aliyun"


async def test_requests_without_a_valid_token_get_401(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        missing = await api.client.post("/v1/messages", json=otp())
        wrong = await api.client.post("/v1/messages", json=otp(), headers=auth("x" * 27))
        basic = await api.client.post(
            "/v1/messages", json=otp(), headers={"Authorization": f"Basic {SHOP_TOKEN}"}
        )
        reading = await api.client.get("/v1/messages/anything")
        assert await api.published() == []
    for answer in (missing, wrong, basic, reading):
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "token" in answer.json()["error"]


async def test_a_batch_of_1000_is_accepted_and_1001_refused(sqlite_url: str) -> None:
    def batch(size: int) -> dict[str, Any]:
        recipients = [{"phone": f"+86139{n:08d}"} for n in range(size)]
        return {"template_id": "promo", "params": {"discount": "8"}, "recipients": recipients}

    async with serving(api_settings(sqlite_url)) as api:
        accepted = await api.client.post("/v1/messages/batch", json=batch(1000), headers=auth())
        refused = await api.client.post("/v1/messages/batch", json=batch(1001), headers=auth())
        messages = await api.published()
    assert accepted.status_code == 202
    body = accepted.json()
    assert body["accepted"] == 1000 and body["rejected"] == []
    assert [m["index"] for m in body["messages"]] == list(range(1000))
    assert len(messages) == 1000
    assert {m.message_id for m in messages} == {m["message_id"] for m in body["messages"]}
    assert messages[0].content == "【好店】双十一大促，全场8折，回T退订"
    assert refused.status_code == 422
    assert refused.json()["field"] == "recipients"


async def test_batch_recipients_add_their_own_params_to_the_shared_ones(sqlite_url: str) -> None:
    batch = {
        "template_id": "order_shipped",
        "params": {"tracking": "SF100"},
        "recipients": [
            {"phone": "13800000001", "params": {"order": "A1"}},
            {"phone": "13300000002", "params": {"order": "A2", "tracking": "YT200"}},
        ],
    }
    async with serving(api_settings(sqlite_url)) as api:
        answer = await api.client.post("/v1/messages/batch", json=batch, headers=auth())
        messages = await api.published()
    assert answer.status_code == 202
    assert [m.content for m in messages] == [
        "【好店】您的订单A1已发货，快递单号SF100。",
        "【好店】您的订单A2已发货，快递单号YT200。",
    ]
    assert [m.carrier for m in messages] == ["cmcc", "ctcc"]


@pytest.mark.parametrize(
    ("recipients", "params", "field"),
    [
        ([{"phone": "13800000001"}, {"phone": "123"}], {"order": "1", "tracking": "2"},
         "recipients[1].phone"),
        ([{"phone": "13800000001", "params": {"order": "A"}}], {}, "recipients[0].params.tracking"),
        ([{"phone": "13800000001"}], {"order": "1", "tracking": "2", "x": "3"}, "params.x"),
        ([{"phone": "13800000001", "params": {"bogus": "1"}}], {"order": "1", "tracking": "2"},
         "recipients[0].params.bogus"),
        ([{"phone": 13800000001}], {"order": "1", "tracking": "2"}, "recipients[0].phone"),
        ([], {"order": "1", "tracking": "2"}, "recipients"),
    ],
)  # fmt: skip
async def test_an_invalid_batch_is_refused_whole_naming_the_recipient(
    sqlite_url: str, recipients: list[dict[str, Any]], params: dict[str, str], field: str
) -> None:
    batch = {"template_id": "order_shipped", "params": params, "recipients": recipients}
    async with serving(api_settings(sqlite_url)) as api:
        answer = await api.client.post("/v1/messages/batch", json=batch, headers=auth())
        assert await api.published() == []
    assert answer.status_code == 422
    assert answer.json()["field"] == field


async def test_a_body_that_is_not_json_is_refused(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        answer = await api.client.post("/v1/messages", content=b"phone=1", headers=auth())
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid request"


async def test_templates_lists_what_the_tenant_may_send(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        shop = (await api.client.get("/v1/templates", headers=auth(SHOP_TOKEN))).json()
        bank = (await api.client.get("/v1/templates", headers=auth(BANK_TOKEN))).json()
    by_id = {t["id"]: t for t in shop["templates"]}
    assert by_id["order_shipped"]["params"] == ["order", "tracking"]
    assert by_id["promo"]["message_class"] == "marketing"
    assert "promo" not in {t["id"] for t in bank["templates"]}
    assert bank["signatures"] == ["某银行"]


async def test_health_and_metrics_show_the_traffic(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        await api.send(otp())
        await api.send(otp(phone="123"))
        health = await api.client.get("/healthz")
        metrics = (await api.client.get("/metrics")).text
    assert health.status_code == 200 and health.json()["checks"] == {"database": True, "bus": True}
    assert 'sendtier_api_http_requests_total{code="202",route="/v1/messages"} 1.0' in metrics
    assert 'sendtier_api_http_requests_total{code="422",route="/v1/messages"} 1.0' in metrics
    assert 'sendtier_api_messages_accepted_total{carrier="cmcc",message_class="otp"} 1.0' in metrics
    assert 'sendtier_api_messages_refused_total{reason="invalid"} 1.0' in metrics
    assert 'sendtier_api_accept_seconds_count{route="/v1/messages"} 2.0' in metrics
