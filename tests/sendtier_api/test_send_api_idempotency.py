"""Idempotency-Key: a retried send answers with the first send's ids and never sends again."""

from __future__ import annotations

from datetime import timedelta

from sendtier_api_helpers import BANK_TOKEN, SHOP_TOKEN, api_settings, auth, otp, serving

from sendtier.storage.api_repositories import IdempotencyKeyRepository


def keyed(key: str, token: str = SHOP_TOKEN) -> dict[str, str]:
    return {**auth(token), "Idempotency-Key": key}


async def test_a_retry_with_the_same_key_gets_the_same_ids_and_sends_nothing(
    sqlite_url: str,
) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        first = await api.client.post("/v1/messages", json=otp(), headers=keyed("order-77"))
        api.clock.advance(120)  # past the OTP limit too: a replay is not a send
        retry = await api.client.post("/v1/messages", json=otp(), headers=keyed("order-77"))
        published = await api.published()
    assert first.status_code == retry.status_code == 202
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert [m.message_id for m in published] == [first.json()["message_id"]]


async def test_a_batch_retry_gets_every_original_id(sqlite_url: str) -> None:
    batch = {
        "template_id": "promo",
        "params": {"discount": "7"},
        "recipients": [{"phone": f"1390000{n:04d}"} for n in range(50)],
    }
    async with serving(api_settings(sqlite_url)) as api:
        first = await api.client.post("/v1/messages/batch", json=batch, headers=keyed("b-1"))
        retry = await api.client.post("/v1/messages/batch", json=batch, headers=keyed("b-1"))
        published = await api.published()
    assert retry.json() == first.json()
    assert len(published) == 50


async def test_the_same_key_with_a_different_request_is_refused(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        await api.client.post("/v1/messages", json=otp(), headers=keyed("k-1"))
        other = await api.client.post("/v1/messages", json=otp("13800000002"), headers=keyed("k-1"))
        assert len(await api.published()) == 1
    assert other.status_code == 422
    assert other.json()["field"] == "Idempotency-Key"


async def test_keys_belong_to_their_tenant(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        shop = await api.client.post("/v1/messages", json=otp(), headers=keyed("same"))
        bank = await api.client.post("/v1/messages", json=otp(), headers=keyed("same", BANK_TOKEN))
        assert len(await api.published()) == 2
    assert shop.json()["message_id"] != bank.json()["message_id"]


async def test_a_refused_request_is_not_remembered_under_its_key(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        await api.send(otp())
        limited = await api.client.post("/v1/messages", json=otp(), headers=keyed("k-2"))
        api.clock.advance(60)
        retried = await api.client.post("/v1/messages", json=otp(), headers=keyed("k-2"))
        assert len(await api.published()) == 2
    assert limited.status_code == 429
    assert retried.status_code == 202


async def test_when_the_bus_fails_the_answer_is_503_and_the_key_is_free_again(
    sqlite_url: str,
) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        await api.bus.close()
        failed = await api.client.post("/v1/messages", json=otp(), headers=keyed("k-3"))
        unkeyed = await api.send(otp("13800000002"))
        claim = IdempotencyKeyRepository(api.database).get("shop", "k-3")
        metrics = (await api.client.get("/metrics")).text
    assert failed.status_code == 503
    assert failed.headers["retry-after"] == "1"
    assert unkeyed.status_code == 503
    assert claim is None
    assert 'sendtier_api_messages_refused_total{reason="unavailable"} 2.0' in metrics


async def test_a_key_is_honoured_by_another_api_process_over_the_same_database(
    sqlite_url: str,
) -> None:
    settings = api_settings(sqlite_url)
    async with serving(settings) as api:
        first = await api.client.post("/v1/messages", json=otp(), headers=keyed("k-4"))
    async with serving(settings, migrate=False) as other:
        retry = await other.client.post("/v1/messages", json=otp(), headers=keyed("k-4"))
        assert await other.published() == []
    assert retry.json()["message_id"] == first.json()["message_id"]


async def test_a_key_older_than_a_day_starts_a_new_send(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        first = await api.client.post("/v1/messages", json=otp(), headers=keyed("k-5"))
        api.clock.advance(timedelta(days=1, seconds=1).total_seconds())
        later = await api.client.post("/v1/messages", json=otp(), headers=keyed("k-5"))
        assert len(await api.published()) == 2
    assert later.status_code == 202
    assert later.json()["message_id"] != first.json()["message_id"]


async def test_a_malformed_key_is_refused(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        answer = await api.client.post("/v1/messages", json=otp(), headers=keyed("k" * 129))
    assert answer.status_code == 422
    assert answer.json()["field"] == "Idempotency-Key"
