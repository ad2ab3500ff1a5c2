"""A report answered OK is on the bus or in storage: held reports outlive their gateway."""

from __future__ import annotations

import orjson
from gateway_helpers import (
    ALIYUN,
    PUBLIC_URL,
    RETRY_WINDOW_S,
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
    until,
)

from sendtier.receipts import ReceiptGatewayService
from sendtier.storage import Database, OrphanReceiptRepository
from smsplatform.bus import MemoryBus
from smsplatform.clock import ManualClock
from suppliers.registry import make_callback_reader


async def test_reports_held_when_the_gateway_stops_are_published_after_its_restart(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    settings = settings_for(str(database.url))
    async with gateway(settings, bus, database, clock) as (client, _):
        answer = await aliyun_push(client, [aliyun_report("biz-1"), aliyun_report("biz-2")])
        assert answer.status_code == 200

    assert OrphanReceiptRepository(database).count() == 0
    async with gateway(settings, bus, database, clock) as (_, restarted):
        await publish_submits(bus, [submit_result(n, supplier=ALIYUN) for n in (1, 2)])
        receipts = await published_eventually(bus, 2)

    assert sorted(r.message_id for r in receipts) == ["m-00001", "m-00002"]
    published_late = metric(
        restarted, "sendtier_receipts_reports_total", supplier=ALIYUN, fate="published_late"
    )
    assert published_late == 2


async def test_a_held_report_outlives_a_gateway_that_dies_without_stopping(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    settings = settings_for(str(database.url))
    readers = {supplier.name: make_callback_reader(supplier) for supplier in settings.suppliers}
    doomed = ReceiptGatewayService(settings, bus, database, readers, clock)
    body = orjson.dumps([aliyun_report("biz-3")])
    answer = await doomed.gateway.handle_push(ALIYUN, PUBLIC_URL + aliyun_url(), {}, body)
    assert answer.status_code == 200
    del doomed  # the process dies here: nothing it held in memory survives

    async with gateway(settings, bus, database, clock):
        await publish_submits(bus, [submit_result(3, supplier=ALIYUN)])
        [receipt] = await published_eventually(bus, 1)

    assert (receipt.message_id, receipt.supplier, receipt.status) == (
        "m-00003",
        ALIYUN,
        "DELIVERED",
    )


async def test_a_held_report_still_unknown_after_its_window_is_kept_as_an_orphan_once(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    settings = settings_for(str(database.url))
    async with gateway(settings, bus, database, clock) as (client, _):
        assert (await aliyun_push(client, [aliyun_report("biz-4")])).status_code == 200
    clock.advance(RETRY_WINDOW_S)
    async with gateway(settings, bus, database, clock) as (_, restarted):
        await until(lambda: restarted.held.count == 0)

    [orphan] = OrphanReceiptRepository(database).recent()
    assert (orphan.supplier_message_id, orphan.reason) == ("biz-4", "uncorrelated")
    assert await published(bus) == []


async def test_a_push_is_answered_retry_later_when_its_unknown_reports_cannot_be_stored(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        # Storage fails under the gateway: where it keeps what it took is gone.
        with database.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS taken_reports")
        answer = await aliyun_push(client, [aliyun_report("biz-5")])

    assert (answer.status_code, answer.json()["code"]) == (503, 503)
    assert metric(service, "sendtier_receipts_pushes_total", supplier=ALIYUN, outcome="ok") == 0
    assert await published(bus) == []
