"""Reports the replay memory could not know of are still one message on sms.receipts.

The gateway publishes each batch under an id made of its reports, so the bus's own dedup
window drops the same reports published again: after a lost publish answer, or by two
replicas taking the same report at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from gateway_helpers import (
    ALIYUN,
    ALIYUN_TOKEN,
    PUBLIC_URL,
    aliyun_push,
    aliyun_report,
    aliyun_url,
    gateway,
    metric,
    published,
    settings_for,
    submit_result,
)

from sendtier.receipts import ReceiptGatewayService
from sendtier.storage import Database, SubmitResultRepository
from smsplatform.bus import RECEIPTS, Bus, JetStreamBus, MemoryBus, PublishFailed
from smsplatform.clock import ManualClock
from suppliers.registry import make_callback_reader


class LostAnswers:
    """The bus holds the next `lost` publishes on sms.receipts but its answers never arrive."""

    lost = 0

    async def publish(self, subject: str, payload: bytes, **ids: Any) -> None:
        await super().publish(subject, payload, **ids)  # type: ignore[misc]
        if subject == RECEIPTS and self.lost:
            self.lost -= 1
            raise PublishFailed(subject, 1, [0], maybe_held=True)


class LosingMemoryBus(LostAnswers, MemoryBus):
    pass


class LosingJetStreamBus(LostAnswers, JetStreamBus):
    pass


@pytest.fixture(params=["memory", "jetstream"])
async def losing_bus(
    request: pytest.FixtureRequest, unique_name: str
) -> AsyncIterator[LosingMemoryBus | LosingJetStreamBus]:
    started: LosingMemoryBus | LosingJetStreamBus
    if request.param == "memory":
        started = LosingMemoryBus()
    else:
        nats_url = str(request.getfixturevalue("nats_url"))
        started = LosingJetStreamBus(nats_url, stream=unique_name, namespace=unique_name)
    await started.start()
    try:
        yield started
    finally:
        if isinstance(started, JetStreamBus):
            await started.delete_stream()
        await started.close()


async def test_a_push_retried_after_the_bus_answer_was_lost_is_one_message(
    database: Database, losing_bus: LosingMemoryBus | LosingJetStreamBus, clock: ManualClock
) -> None:
    SubmitResultRepository(database).add_batch([submit_result(1, supplier=ALIYUN)])
    losing_bus.lost = 1
    settings = settings_for(str(database.url))
    async with gateway(settings, losing_bus, database, clock) as (client, service):
        # The bus held the receipt, but the gateway cannot know: Alibaba is told to retry.
        lost = await aliyun_push(client, [aliyun_report("biz-1", success=False)])
        retried = await aliyun_push(client, [aliyun_report("biz-1", success=False)])

    assert (lost.status_code, retried.status_code) == (503, 200)
    assert metric(service, "sendtier_receipts_publish_failures_total") == 1
    assert [(r.message_id, r.status) for r in await published(losing_bus)] == [
        ("m-00001", "FAILED")
    ]


def replica(database: Database, bus: Bus, clock: ManualClock, name: str) -> ReceiptGatewayService:
    """One of several gateway replicas behind one load balancer, sharing bus and database."""
    settings = settings_for(
        str(database.url),
        receipts={"index_durable": f"{name}-index", "degradation_durable": f"{name}-policy"},
    )
    readers = {supplier.name: make_callback_reader(supplier) for supplier in settings.suppliers}
    return ReceiptGatewayService(settings, bus, database, readers, clock)


async def test_one_report_taken_by_two_replicas_at_once_is_one_message(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    SubmitResultRepository(database).add_batch([submit_result(2, supplier=ALIYUN)])
    replicas = [replica(database, bus, clock, name) for name in ("gw-a", "gw-b")]
    body = orjson.dumps([aliyun_report("biz-2")])
    url = PUBLIC_URL + aliyun_url(ALIYUN_TOKEN)
    # Alibaba did not see the first answer in time and pushed again, to the other replica.
    answers = await asyncio.gather(
        *(r.gateway.handle_push(ALIYUN, url, {}, body) for r in replicas)
    )

    assert [answer.status_code for answer in answers] == [200, 200]
    assert [(r.message_id, r.status) for r in await published(bus)] == [("m-00002", "DELIVERED")]
