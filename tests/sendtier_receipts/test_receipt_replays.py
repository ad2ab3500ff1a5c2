"""A report pushed again is answered as its dialect expects, and published once, restarts or not."""

from __future__ import annotations

import asyncio

import orjson
from gateway_helpers import (
    ALIYUN,
    ALIYUN_TOKEN,
    PUBLIC_URL,
    TWILIO,
    aliyun_push,
    aliyun_report,
    aliyun_url,
    gateway,
    metric,
    publish_submits,
    published,
    published_eventually,
    settings_for,
    submit_result,
    twilio_push,
    until,
)

from sendtier.storage import Database, SubmitResultRepository, TakenReportRepository
from smsplatform.bus import MemoryBus
from smsplatform.clock import ManualClock

ALIYUN_OK = {"code": 0, "msg": "接收成功"}


async def test_an_alibaba_report_pushed_again_is_answered_ok_and_published_once(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    SubmitResultRepository(database).add_batch([submit_result(1, supplier=ALIYUN)])
    report = aliyun_report("biz-1", success=False, err_code="MK:0001")
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        answers = [await aliyun_push(client, [report]) for _ in range(3)]

    assert [(a.status_code, a.json()) for a in answers] == [(200, ALIYUN_OK)] * 3
    [receipt] = await published(bus)
    assert (receipt.message_id, receipt.status) == ("m-00001", "FAILED")
    assert metric(service, "sendtier_receipt_replays_total", supplier=ALIYUN) == 2
    assert (
        metric(service, "sendtier_receipts_reports_total", supplier=ALIYUN, fate="published") == 1
    )
    assert (
        metric(service, "sendtier_receipts_total", supplier=ALIYUN, carrier="cucc", status="FAILED")
        == 1
    )


async def test_a_twilio_status_pushed_again_is_published_once_and_a_new_status_is_not_a_replay(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    submit = submit_result(2)
    SubmitResultRepository(database).add_batch([submit])
    sid = str(submit.supplier_message_id)
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        first = await twilio_push(client, sid, "undelivered")
        again = await twilio_push(client, sid, "undelivered")
        # `failed` is FAILED too: the same report as far as the platform is concerned.
        same_status = await twilio_push(client, sid, "failed")
        other = await twilio_push(client, sid, "delivered")

    assert [a.status_code for a in (first, again, same_status, other)] == [200] * 4
    assert [r.status for r in await published(bus)] == ["FAILED", "DELIVERED"]
    assert metric(service, "sendtier_receipt_replays_total", supplier=TWILIO) == 2


async def test_a_report_repeated_within_one_push_is_published_once(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    SubmitResultRepository(database).add_batch(
        [submit_result(3, supplier=ALIYUN), submit_result(4, supplier=ALIYUN)]
    )
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        answer = await aliyun_push(
            client, [aliyun_report("biz-3"), aliyun_report("biz-4"), aliyun_report("biz-3")]
        )

    assert answer.status_code == 200
    assert sorted(r.message_id for r in await published(bus)) == ["m-00003", "m-00004"]
    assert metric(service, "sendtier_receipt_replays_total", supplier=ALIYUN) == 1


async def test_a_report_taken_before_a_restart_is_still_a_replay_after_it(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    SubmitResultRepository(database).add_batch([submit_result(5, supplier=ALIYUN)])
    settings = settings_for(str(database.url))
    async with gateway(settings, bus, database, clock) as (client, _):
        assert (await aliyun_push(client, [aliyun_report("biz-5")])).status_code == 200
    async with gateway(settings, bus, database, clock) as (client, restarted):
        answer = await aliyun_push(client, [aliyun_report("biz-5")])

    assert (answer.status_code, answer.json()) == (200, ALIYUN_OK)
    assert [r.message_id for r in await published(bus)] == ["m-00005"]
    assert metric(restarted, "sendtier_receipt_replays_total", supplier=ALIYUN) == 1


async def test_the_same_report_pushed_twice_at_once_is_taken_once(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    SubmitResultRepository(database).add_batch([submit_result(6, supplier=ALIYUN)])
    body = orjson.dumps([aliyun_report("biz-6")])
    url = PUBLIC_URL + aliyun_url(ALIYUN_TOKEN)
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        # Both in flight together: the second finds the report being taken and comes back later.
        first, second = await asyncio.gather(
            service.gateway.handle_push(ALIYUN, url, {}, body),
            service.gateway.handle_push(ALIYUN, url, {}, body),
        )
        later = await aliyun_push(client, [aliyun_report("biz-6")])

    assert (first.status_code, second.status_code, later.status_code) == (200, 503, 200)
    assert [r.message_id for r in await published(bus)] == ["m-00006"]
    assert metric(service, "sendtier_receipt_replays_total", supplier=ALIYUN) == 1


async def test_a_replay_of_a_held_report_is_published_once_when_its_submit_arrives(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        for _ in range(2):
            assert (await aliyun_push(client, [aliyun_report("biz-7")])).status_code == 200
        assert service.held.count == 1
        await publish_submits(bus, [submit_result(7, supplier=ALIYUN)])
        await until(lambda: service.held.count == 0)
        receipts = await published_eventually(bus, 1)

    assert [r.message_id for r in receipts] == ["m-00007"]
    assert metric(service, "sendtier_receipt_replays_total", supplier=ALIYUN) == 1


async def test_the_replay_memory_forgets_by_age_and_keeps_no_more_than_its_bound(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    SubmitResultRepository(database).add_batch(
        [submit_result(n, supplier=ALIYUN) for n in (11, 12, 13)]
    )
    settings = settings_for(
        str(database.url), receipts={"replay_horizon_s": 600.0, "replay_memory_max": 2}
    )
    memory = TakenReportRepository(database)
    async with gateway(settings, bus, database, clock) as (client, service):
        for n in (11, 12, 13):
            assert (await aliyun_push(client, [aliyun_report(f"biz-{n}")])).status_code == 200
        await service.replays.purge()
        kept = memory.count()
        # The oldest was forgotten: pushed again, it is taken again; the newest is a replay.
        await aliyun_push(client, [aliyun_report("biz-11")])
        await aliyun_push(client, [aliyun_report("biz-13")])
        clock.advance(601)
        await service.replays.purge()
        after_horizon = memory.count()

    assert kept == 2
    # biz-11 was taken again; the bus's shorter dedup window still dropped its second publish.
    assert (
        metric(service, "sendtier_receipts_reports_total", supplier=ALIYUN, fate="published") == 4
    )
    assert [r.message_id for r in await published(bus)] == ["m-00011", "m-00012", "m-00013"]
    assert metric(service, "sendtier_receipt_replays_total", supplier=ALIYUN) == 1
    assert after_horizon == 0
