"""The receipt gateway's /metrics: receipt delay, requests by route and code, bus backlog."""

from __future__ import annotations

from datetime import timedelta

from gateway_helpers import (
    ALIYUN,
    aliyun_push,
    aliyun_report,
    gateway,
    publish_submits,
    settings_for,
    submit_result,
    until,
)

from sendtier.storage import Database
from smsplatform.bus import SUBMITTED, MemoryBus
from smsplatform.clock import ManualClock

DELAY = 'sendtier_receipt_delay_seconds_bucket{carrier="cucc",le="%s",supplier="aliyun-main"}'


async def test_a_published_receipt_shows_its_delay_by_supplier_and_carrier(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    # Submitted at 04:00:00 UTC; reported at 12:00:07 Beijing time, seven seconds later.
    submit = submit_result(1, supplier=ALIYUN)
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        await publish_submits(bus, [submit])
        await until(lambda: len(service.index) > 0)
        assert (await aliyun_push(client, [aliyun_report("biz-1")])).status_code == 200
        scrape = (await client.get("/metrics")).text

    assert f"{DELAY % '5.0'} 0.0" in scrape
    assert f"{DELAY % '10.0'} 1.0" in scrape
    assert f"{DELAY % '3600.0'} 1.0" in scrape
    assert 'sendtier_receipt_delay_seconds_sum{carrier="cucc",supplier="aliyun-main"} 7.0' in scrape


async def test_a_report_time_before_the_submit_counts_as_no_delay(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    submit = submit_result(2, supplier=ALIYUN, at=submit_result(2).at + timedelta(seconds=30))
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        await publish_submits(bus, [submit])
        await until(lambda: len(service.index) > 0)
        assert (await aliyun_push(client, [aliyun_report("biz-2")])).status_code == 200
        scrape = (await client.get("/metrics")).text

    assert f"{DELAY % '0.5'} 1.0" in scrape
    assert 'sendtier_receipt_delay_seconds_sum{carrier="cucc",supplier="aliyun-main"} 0.0' in scrape


async def test_requests_are_counted_by_route_template_and_code(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, _):
        await aliyun_push(client, [aliyun_report("biz-3")])
        await aliyun_push(client, [aliyun_report("biz-3")], token="guessed")
        await client.post("/v1/callbacks/nobody", content=b"[]")
        scrape = (await client.get("/metrics")).text

    requests = "sendtier_receipts_http_requests_total"
    assert f'{requests}{{code="200",route="/v1/callbacks/{{supplier}}"}} 1.0' in scrape
    assert f'{requests}{{code="400",route="/v1/callbacks/{{supplier}}"}} 1.0' in scrape
    assert f'{requests}{{code="404",route="/v1/callbacks/{{supplier}}"}} 1.0' in scrape


async def test_submits_the_correlation_index_has_not_read_show_as_bus_backlog(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    pending = 'sendtier_receipts_bus_pending{subject="sms.submitted"}'
    async with gateway(settings_for(str(database.url)), bus, database, clock) as (client, service):
        await publish_submits(bus, [submit_result(4)])
        await until(lambda: service.feed.indexed == 1)
        caught_up = (await client.get("/metrics")).text
        await service.feed.stop()  # the index stalls: what arrives now waits on the bus
        await publish_submits(bus, [submit_result(5)])
        await publish_submits(bus, [submit_result(6)])
        behind = (await client.get("/metrics")).text

    assert f"{pending} 0.0" in caught_up
    assert f"{pending} 2.0" in behind
    assert await bus.pending(SUBMITTED, "sendtier-receipts-index") == 2
