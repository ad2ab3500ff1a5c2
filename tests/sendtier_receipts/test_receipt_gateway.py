"""The receipt gateway: verify, correlate, publish, answer in the dialect; orphans are kept."""

from __future__ import annotations

from datetime import timedelta

from gateway_helpers import (
    ALIYUN,
    RETRY_WINDOW_S,
    T0,
    TWILIO,
    aliyun_push,
    aliyun_report,
    gateway,
    metric,
    publish_submits,
    published,
    settings_for,
    submit_result,
    twilio_push,
    until,
)

from sendtier.storage import Database, OrphanReceiptRepository, SubmitResultRepository
from smsplatform.bus import MemoryBus
from smsplatform.clock import ManualClock
from smsplatform.contracts import Receipt


async def test_a_report_echoing_our_id_becomes_a_receipt_with_the_submits_details(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    submit = submit_result(1, supplier=ALIYUN, message_class="marketing")
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        await publish_submits(bus, [submit])
        await until(lambda: len(service.index) > 0)

        answer = await aliyun_push(client, [aliyun_report("biz-elsewhere", out_id="m-00001")])

    assert (answer.status_code, answer.json()) == (200, {"code": 0, "msg": "接收成功"})
    assert await published(bus) == [
        Receipt(
            message_id="m-00001",
            supplier=ALIYUN,
            carrier="cucc",
            message_class="marketing",
            status="DELIVERED",
            submitted_at=submit.at,
            reported_at=T0 + timedelta(seconds=7),  # 12:00:07 in Beijing is 04:00:07 UTC
            raw_status="DELIVERED",
            error_code=None,
            received_at=clock.now(),
        )
    ]
    assert metric(service, "sendtier_receipts_correlations_total", source="index") == 1


async def test_a_report_is_found_by_the_suppliers_id_through_the_bus_fed_index(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    submit = submit_result(2)
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        await publish_submits(bus, [submit, submit_result(3, accepted=False)])
        await until(lambda: service.feed.indexed == 1)

        answer = await twilio_push(client, str(submit.supplier_message_id), "undelivered")

    assert answer.status_code == 200
    [receipt] = await published(bus)
    assert (receipt.message_id, receipt.status, receipt.raw_status) == (
        "m-00002",
        "FAILED",
        "undelivered",
    )
    assert metric(service, "sendtier_receipts_correlations_total", source="index") == 1
    assert metric(service, "sendtier_receipts_correlations_total", source="database") == 0


async def test_a_submit_known_only_to_the_database_still_correlates(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    submit = submit_result(4)
    SubmitResultRepository(database).add_batch([submit])
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        first = await twilio_push(client, str(submit.supplier_message_id), "delivered")
        again = await twilio_push(client, str(submit.supplier_message_id), "undelivered")

    assert (first.status_code, again.status_code) == (200, 200)
    assert [r.message_id for r in await published(bus)] == ["m-00004", "m-00004"]
    # The first lookup went to the database and taught the index; the second did not need it.
    assert metric(service, "sendtier_receipts_correlations_total", source="database") == 1
    assert metric(service, "sendtier_receipts_correlations_total", source="index") == 1


async def test_a_non_final_report_is_counted_and_not_published(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    SubmitResultRepository(database).add_batch([submit_result(5)])
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        answer = await twilio_push(client, str(submit_result(5).supplier_message_id), "sent")

    assert answer.status_code == 200
    assert await published(bus) == []
    assert (
        metric(service, "sendtier_receipts_reports_total", supplier=TWILIO, fate="not_final") == 1
    )


async def test_a_receipt_that_overtakes_its_submit_is_published_once_the_submit_arrives(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    submit = submit_result(6)
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        answer = await twilio_push(client, str(submit.supplier_message_id), "delivered")
        assert answer.status_code == 200
        assert service.held.count == 1
        clock.advance(RETRY_WINDOW_S / 2)
        await publish_submits(bus, [submit])
        await until(lambda: service.held.count == 0)

    [receipt] = await published(bus)
    assert (receipt.message_id, receipt.received_at) == ("m-00006", T0 + timedelta(seconds=30))
    assert (
        metric(service, "sendtier_receipts_reports_total", supplier=TWILIO, fate="published_late")
        == 1
    )
    assert OrphanReceiptRepository(database).count() == 0


async def test_a_report_nobody_sent_is_kept_as_an_orphan_after_the_retry_window(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    orphans = OrphanReceiptRepository(database)
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        answer = await twilio_push(client, "SM" + "f" * 32, "delivered", message_id="m-foreign")
        assert answer.status_code == 200
        clock.advance(RETRY_WINDOW_S - 1)
        assert (await service.held.sweep()).orphaned == 0
        assert orphans.count() == 0

        clock.advance(1)
        await until(lambda: service.held.count == 0)
        # The supplier pushes the same report again: a replay, answered and not held again.
        again = await twilio_push(client, "SM" + "f" * 32, "delivered", message_id="m-foreign")
        assert (again.status_code, service.held.count) == (200, 0)

    [kept] = orphans.recent()
    assert (kept.supplier, kept.supplier_message_id, kept.message_id) == (
        TWILIO,
        "SM" + "f" * 32,
        "m-foreign",
    )
    assert (kept.status, kept.raw_status, kept.reason) == ("DELIVERED", "delivered", "uncorrelated")
    assert kept.fields == {"phone": "+14155550100"}
    assert (
        metric(service, "sendtier_receipts_orphans_total", supplier=TWILIO, reason="uncorrelated")
        == 1
    )
    assert metric(service, "sendtier_receipt_replays_total", supplier=TWILIO) == 1
    assert await published(bus) == []


async def test_a_push_is_answered_retry_later_when_the_bus_cannot_take_its_receipts(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    SubmitResultRepository(database).add_batch([submit_result(7, supplier=ALIYUN)])
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        await bus.close()
        answer = await aliyun_push(client, [aliyun_report("biz-7")])

    assert answer.status_code == 503
    assert answer.json()["code"] == 503
    assert metric(service, "sendtier_receipts_publish_failures_total") == 1
    assert (
        metric(service, "sendtier_receipts_pushes_total", supplier=ALIYUN, outcome="retry_later")
        == 1
    )
    assert OrphanReceiptRepository(database).count() == 0


async def test_pushes_with_a_bad_signature_or_token_are_rejected_and_counted(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    SubmitResultRepository(database).add_batch(
        [submit_result(8), submit_result(8, supplier=ALIYUN)]
    )
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        twilio = await twilio_push(
            client, str(submit_result(8).supplier_message_id), auth_token="not-the-auth-token"
        )
        aliyun = await aliyun_push(client, [aliyun_report("biz-8")], token="guessed")

    assert twilio.status_code == 400
    assert (aliyun.status_code, aliyun.json()["code"]) == (400, 400)
    assert await published(bus) == []
    for supplier in (TWILIO, ALIYUN):
        rejected = metric(
            service,
            "sendtier_receipts_pushes_total",
            supplier=supplier,
            outcome="rejected_signature",
        )
        assert rejected == 1


async def test_a_malformed_push_is_rejected_naming_the_field(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    report = aliyun_report("biz-9")
    del report["biz_id"]
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, _):
        answer = await aliyun_push(client, [report])

    assert answer.status_code == 400
    assert "biz_id" in answer.json()["msg"]


async def test_a_push_for_an_unknown_supplier_is_a_404_naming_the_field(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        answer = await client.post("/v1/callbacks/nobody", content=b"[]")
        too_big = await client.post(f"/v1/callbacks/{ALIYUN}", content=b"x" * (64 * 1024 + 1))
        health = await client.get("/healthz")
        scrape = await client.get("/metrics")

    assert answer.status_code == 404
    assert answer.json() == {"error": "unknown supplier 'nobody'", "field": "supplier"}
    assert (too_big.status_code, too_big.json()["field"]) == (413, "body")
    assert health.json()["checks"] == {"database": True, "bus": True, "consumers": True}
    assert "sendtier_receipts_held 0.0" in scrape.text
    unknown = metric(
        service, "sendtier_receipts_pushes_total", supplier="-", outcome="unknown_supplier"
    )
    assert unknown == 1
