"""A send the bus takes only part of: 503, the key stays claimed, and its retry sends the rest.

Nothing is sent twice: the retry publishes the same message ids, and only those the bus did not
confirm (JetStream answers are lost, not only refused, so the bus also drops repeated ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sendtier_api_helpers import api_settings, auth, otp, serving

from sendtier.storage.api_repositories import IdempotencyKeyRepository
from smsplatform.bus import SUBMIT, MemoryBus, PublishFailed
from smsplatform.clock import ManualClock


class FlakyBus(MemoryBus):
    """Takes the first `takes` messages of the next `sms.submit` publish, then fails.

    `precise` raises PublishFailed naming what it did not take; otherwise a bare error, as a
    backend that cannot tell. `handed` records how many payloads each publish was given.
    """

    def __init__(self, clock: ManualClock, takes: int, *, precise: bool) -> None:
        super().__init__(clock=clock)
        self.takes: int | None = takes
        self.precise = precise
        self.handed: list[int] = []

    async def publish(self, subject: str, payload: bytes, **ids: Any) -> None:
        msg_ids = [ids["msg_id"]] if ids.get("msg_id") else None
        await self.publish_many(subject, [payload], **({"msg_ids": msg_ids} if msg_ids else {}))

    async def publish_many(self, subject: str, payloads: Sequence[bytes], **ids: Any) -> None:
        if subject != SUBMIT:
            await super().publish_many(subject, payloads, **ids)
            return
        self.handed.append(len(payloads))
        takes, self.takes = self.takes, None
        if takes is None:
            await super().publish_many(subject, payloads, **ids)
            return
        taken = {"msg_ids": ids["msg_ids"][:takes]} if ids.get("msg_ids") else {}
        await super().publish_many(subject, payloads[:takes], **taken)
        if self.precise:
            raise PublishFailed(
                subject, len(payloads), range(takes, len(payloads)), maybe_held=False
            )
        raise RuntimeError("the bus went away mid-batch")


def batch(size: int) -> dict[str, Any]:
    recipients = [{"phone": f"1390000{n:04d}"} for n in range(size)]
    return {"template_id": "promo", "params": {"discount": "7"}, "recipients": recipients}


def keyed(key: str) -> dict[str, str]:
    return {**auth(), "Idempotency-Key": key}


async def test_a_batch_retried_after_a_partial_publish_sends_each_message_once(
    sqlite_url: str,
) -> None:
    clock = ManualClock()
    bus = FlakyBus(clock, takes=30, precise=False)
    async with serving(api_settings(sqlite_url), clock, bus=bus) as api:
        failed = await api.client.post("/v1/messages/batch", json=batch(50), headers=keyed("b-9"))
        retry = await api.client.post("/v1/messages/batch", json=batch(50), headers=keyed("b-9"))
        replay = await api.client.post("/v1/messages/batch", json=batch(50), headers=keyed("b-9"))
        published = await api.published()

    assert failed.status_code == 503
    assert retry.status_code == 202
    assert replay.json() == retry.json()
    ids = [m.message_id for m in published]
    assert len(ids) == 50, "every recipient gets exactly one message"
    assert sorted(ids) == sorted(m["message_id"] for m in retry.json()["messages"])


async def test_the_retry_publishes_only_what_the_bus_did_not_confirm(database_url: str) -> None:
    clock = ManualClock()
    bus = FlakyBus(clock, takes=30, precise=True)
    async with serving(api_settings(database_url), clock, bus=bus) as api:
        failed = await api.client.post("/v1/messages/batch", json=batch(50), headers=keyed("b-1"))
        claim = IdempotencyKeyRepository(api.database).get("shop", "b-1")
        retry = await api.client.post("/v1/messages/batch", json=batch(50), headers=keyed("b-1"))
        published = await api.published()

    assert failed.status_code == 503
    assert failed.headers["retry-after"] == "1"
    assert failed.json() | {"error": ""} == {
        "error": "",
        "field": None,
        "sent": "partly",
        "unsent": 20,
        "total": 50,
    }
    assert claim is not None and claim.pending is not None, "the key stays claimed"
    assert bus.handed == [50, 20]
    assert retry.status_code == 202
    assert retry.json()["accepted"] == 50
    assert len({m.message_id for m in published}) == len(published) == 50


async def test_a_resumed_send_that_fails_again_is_resumed_again(sqlite_url: str) -> None:
    clock = ManualClock()
    bus = FlakyBus(clock, takes=30, precise=True)
    async with serving(api_settings(sqlite_url), clock, bus=bus) as api:
        await api.client.post("/v1/messages/batch", json=batch(50), headers=keyed("b-2"))
        bus.takes = 5
        again = await api.client.post("/v1/messages/batch", json=batch(50), headers=keyed("b-2"))
        done = await api.client.post("/v1/messages/batch", json=batch(50), headers=keyed("b-2"))
        published = await api.published()

    assert (again.status_code, again.json()["sent"], again.json()["unsent"]) == (503, "partly", 15)
    assert done.status_code == 202
    assert bus.handed == [50, 20, 15]
    assert len({m.message_id for m in published}) == len(published) == 50


async def test_a_single_send_whose_answer_was_lost_is_one_message_after_its_retry(
    sqlite_url: str,
) -> None:
    clock = ManualClock()
    bus = FlakyBus(clock, takes=1, precise=False)  # the bus took it, the answer never came
    async with serving(api_settings(sqlite_url), clock, bus=bus) as api:
        failed = await api.client.post("/v1/messages", json=otp(), headers=keyed("o-1"))
        retry = await api.client.post("/v1/messages", json=otp(), headers=keyed("o-1"))
        published = await api.published()

    assert (failed.status_code, failed.json()["sent"]) == (503, "unknown")
    assert retry.status_code == 202
    assert [m.message_id for m in published] == [retry.json()["message_id"]]


async def test_without_a_key_a_partial_publish_says_part_was_sent(sqlite_url: str) -> None:
    clock = ManualClock()
    bus = FlakyBus(clock, takes=30, precise=True)
    async with serving(api_settings(sqlite_url), clock, bus=bus) as api:
        failed = await api.client.post("/v1/messages/batch", json=batch(50), headers=auth())
        published = await api.published()
        metrics = (await api.client.get("/metrics")).text

    assert (failed.status_code, failed.json()["sent"], failed.json()["unsent"]) == (
        503,
        "partly",
        20,
    )
    assert len(published) == 30
    assert (
        'sendtier_api_messages_accepted_total{carrier="cmcc",message_class="marketing"} 30.0'
        in metrics
    )


async def test_a_bus_that_took_nothing_says_so_and_frees_the_key(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        await api.bus.close()
        failed = await api.client.post("/v1/messages/batch", json=batch(3), headers=keyed("b-3"))
        claim = IdempotencyKeyRepository(api.database).get("shop", "b-3")

    assert (failed.status_code, failed.json()["sent"]) == (503, "none")
    assert claim is None
