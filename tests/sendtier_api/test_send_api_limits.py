"""Rate limits and the opt-out list as a client meets them: 429 with Retry-After, refusals."""

from __future__ import annotations

from typing import Any

from sendtier_api_helpers import BANK_TOKEN, api_settings, auth, otp, serving


def promo(phone: str = "13800000001") -> dict[str, Any]:
    return {"phone": phone, "template_id": "promo", "params": {"discount": "8"}}


async def test_otp_to_one_number_is_limited_to_one_a_minute(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        first = await api.send(otp())
        api.clock.advance(20)
        second = await api.send(otp())
        other_number = await api.send(otp("13800000002"))
        other_tenant = await api.send(otp(), token=BANK_TOKEN)
        api.clock.advance(40)
        after_a_minute = await api.send(otp())
        published = await api.published()
    assert first.status_code == 202
    assert second.status_code == 429
    assert second.headers["retry-after"] == "40"
    body = second.json()
    assert body["limit"] == "otp_per_minute"
    assert body["field"] == "phone"
    assert body["retry_after_s"] == 40.0
    assert other_number.status_code == 202
    assert other_tenant.status_code == 202
    assert after_a_minute.status_code == 202
    assert len(published) == 4


async def test_otp_to_one_number_is_limited_to_five_an_hour(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        for _ in range(5):
            assert (await api.send(otp())).status_code == 202
            api.clock.advance(61)
        sixth = await api.send(otp())
        # The first send leaves the hour 3600 s after it was made: 5 × 61 s have passed.
        assert sixth.status_code == 429
        assert sixth.json()["limit"] == "otp_per_hour"
        assert sixth.headers["retry-after"] == str(3600 - 5 * 61)
        api.clock.advance(3600 - 5 * 61)
        assert (await api.send(otp())).status_code == 202
        assert len(await api.published()) == 6


async def test_the_per_number_limits_come_from_the_tenant_settings(sqlite_url: str) -> None:
    settings = api_settings(sqlite_url)
    tenants = [t.model_dump() for t in settings.tenants]
    tenants[0]["token"] = settings.tenants[0].token.get_secret_value()
    tenants[1]["token"] = settings.tenants[1].token.get_secret_value()
    tenants[0]["otp_limits"] = {"per_minute": 2, "per_hour": 5, "per_day": 10}
    tenants[0]["notification_per_number_per_day"] = 2
    shipped = {
        "phone": "13800000001",
        "template_id": "order_shipped",
        "params": {"order": "1", "tracking": "2"},
    }
    async with serving(api_settings(sqlite_url, tenants=tenants)) as api:
        otp_codes = [(await api.send(otp())).status_code for _ in range(3)]
        notices = [(await api.send(shipped)).status_code for _ in range(3)]
        refused = await api.send(shipped)
    assert otp_codes == [202, 202, 429]
    assert notices == [202, 202, 429]
    assert refused.json()["limit"] == "notification_per_day"


async def test_a_tenant_over_its_rate_gets_429_until_its_bucket_refills(sqlite_url: str) -> None:
    settings = api_settings(sqlite_url)
    tenants = [
        {**t.model_dump(), "token": t.token.get_secret_value(), "rate_per_s": 5}
        for t in settings.tenants
    ]
    async with serving(api_settings(sqlite_url, tenants=tenants)) as api:
        codes = [(await api.send(otp(f"1380000{n:04d}"))).status_code for n in range(6)]
        refused = await api.send(otp("13900000000"))
        other_tenant = await api.send(otp("13900000000"), token=BANK_TOKEN)
        api.clock.advance(0.2)  # one token back
        after_refill = await api.send(otp("13900000000"))
        assert len(await api.published()) == 7
    assert codes == [202] * 5 + [429]
    assert refused.status_code == 429
    assert refused.json()["limit"] == "tenant_rate"
    assert refused.headers["retry-after"] == "1"
    assert other_tenant.status_code == 202
    assert after_refill.status_code == 202


async def test_a_refused_tenant_request_does_not_use_up_the_numbers_limit(sqlite_url: str) -> None:
    settings = api_settings(sqlite_url)
    tenants = [
        {**t.model_dump(), "token": t.token.get_secret_value(), "rate_per_s": 1}
        for t in settings.tenants
    ]
    async with serving(api_settings(sqlite_url, tenants=tenants)) as api:
        assert (await api.send(otp("13800000009"))).status_code == 202
        refused = await api.send(otp())
        api.clock.advance(1)
        retried = await api.send(otp())
    assert refused.json()["limit"] == "tenant_rate"
    assert retried.status_code == 202


async def test_marketing_to_an_opted_out_number_is_refused(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        opted = await api.client.post(
            "/v1/opt-outs", json={"phone": "138 0000 0001", "reason": "回T退订"}, headers=auth()
        )
        again = await api.client.post("/v1/opt-outs", json={"phone": "13800000001"}, headers=auth())
        marketing = await api.send(promo())
        one_time_code = await api.send(otp())
        lookup = await api.client.get("/v1/opt-outs/+8613800000001", headers=auth())
        other_tenant_lookup = await api.client.get(
            "/v1/opt-outs/13800000001", headers=auth(BANK_TOKEN)
        )
        opted_in = await api.client.delete("/v1/opt-outs/13800000001", headers=auth())
        opted_in_again = await api.client.delete("/v1/opt-outs/13800000001", headers=auth())
        after_opt_in = await api.send(promo())
        published = await api.published()
    assert (opted.status_code, again.status_code) == (201, 200)
    assert opted.json() == {"phone": "+8613800000001", "opted_out": True}
    assert marketing.status_code == 422
    assert marketing.json()["field"] == "phone"
    assert "opted out" in marketing.json()["error"]
    assert one_time_code.status_code == 202
    assert lookup.json() == {"phone": "+8613800000001", "opted_out": True}
    assert other_tenant_lookup.json()["opted_out"] is False
    assert (opted_in.status_code, opted_in_again.status_code) == (204, 404)
    assert after_opt_in.status_code == 202
    assert [m.template_id for m in published] == ["otp_login", "promo"]


async def test_opt_outs_are_kept_across_restarts(sqlite_url: str) -> None:
    settings = api_settings(sqlite_url)
    async with serving(settings) as api:
        await api.client.post("/v1/opt-outs", json={"phone": "13800000001"}, headers=auth())
    async with serving(settings, migrate=False) as restarted:
        refused = await restarted.send(promo())
    assert refused.status_code == 422


async def test_a_batch_sends_to_the_rest_when_some_recipients_are_refused(sqlite_url: str) -> None:
    batch = {
        "template_id": "promo",
        "params": {"discount": "9"},
        "recipients": [{"phone": p} for p in ("13800000001", "13800000002", "13800000003")],
    }
    async with serving(api_settings(sqlite_url)) as api:
        await api.client.post("/v1/opt-outs", json={"phone": "13800000002"}, headers=auth())
        answer = await api.client.post("/v1/messages/batch", json=batch, headers=auth())
        published = await api.published()
        only_opted_out = await api.client.post(
            "/v1/messages/batch",
            json={**batch, "recipients": [{"phone": "13800000002"}]},
            headers=auth(),
        )
    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] == 2
    assert [m["index"] for m in body["messages"]] == [0, 2]
    [rejected] = body["rejected"]
    assert rejected["index"] == 1
    assert rejected["phone"] == "+8613800000002"
    assert rejected["field"] == "recipients[1].phone"
    assert [m.phone for m in published] == ["+8613800000001", "+8613800000003"]
    assert only_opted_out.status_code == 422
    assert only_opted_out.json()["rejected"][0]["index"] == 0


async def test_otp_batches_count_against_each_numbers_limit(sqlite_url: str) -> None:
    batch = {
        "template_id": "otp_login",
        "params": {"code": "1234"},
        "recipients": [{"phone": "13800000001"}, {"phone": "13800000002"}],
    }
    async with serving(api_settings(sqlite_url)) as api:
        await api.send(otp("13800000002"))
        answer = await api.client.post("/v1/messages/batch", json=batch, headers=auth())
        all_limited = await api.client.post("/v1/messages/batch", json=batch, headers=auth())
    body = answer.json()
    assert body["accepted"] == 1
    assert body["rejected"][0]["limit"] == "otp_per_minute"
    assert body["rejected"][0]["retry_after_s"] == 60.0
    assert all_limited.status_code == 429
    assert all_limited.headers["retry-after"] == "60"
    assert len(all_limited.json()["rejected"]) == 2
