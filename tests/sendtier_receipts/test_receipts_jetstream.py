"""The distributed setup: supplier push → gateway → JetStream → persistence → MariaDB, once."""

from __future__ import annotations

from datetime import timedelta

import msgspec
from gateway_helpers import (
    ALIYUN,
    T0,
    aliyun_push,
    aliyun_report,
    gateway,
    outbound,
    publish_submits,
    published,
    settings_for,
    submit_result,
    until,
)

from sendtier.persist import PersistService
from sendtier.storage import (
    SENDTIER_HISTORY,
    Database,
    MessageRepository,
    ReceiptRepository,
    SubmitResultRepository,
)
from smsplatform.bus import SUBMIT, JetStreamBus
from smsplatform.clock import ManualClock


async def test_a_pushed_receipt_reaches_mariadb_once_over_jetstream(
    mariadb_url: str, nats_url: str, unique_name: str
) -> None:
    settings = settings_for(
        mariadb_url, backend="jetstream", url=nats_url, stream=unique_name, namespace=unique_name
    )
    database = Database(mariadb_url)
    database.upgrade(SENDTIER_HISTORY)
    bus = JetStreamBus(nats_url, stream=unique_name, namespace=unique_name)
    await bus.start()
    clock = ManualClock(T0 + timedelta(seconds=10))
    persist = PersistService(settings, bus, database, clock)
    submit = submit_result(1, supplier=ALIYUN)
    try:
        await persist.start()
        async with gateway(settings, bus, database, clock) as (client, service):
            await bus.publish(SUBMIT, msgspec.msgpack.encode(outbound("m-00001")))
            await publish_submits(bus, [submit])
            await until(lambda: len(service.index) > 0, timeout_s=5)
            # Alibaba pushes again when it did not see our answer: the second push is a replay.
            for _ in range(2):
                answer = await aliyun_push(client, [aliyun_report("biz-1")])
                assert answer.status_code == 200
        await persist.stop()
        # What the control plane's windows and health model read: the report, once.
        on_the_bus = await published(bus)
    finally:
        await bus.delete_stream()
        await bus.close()

    assert [(r.message_id, r.status) for r in on_the_bus] == [("m-00001", "DELIVERED")]
    [stored] = ReceiptRepository(database).for_message("m-00001")
    assert (stored.supplier, stored.carrier, stored.status) == (ALIYUN, "cucc", "DELIVERED")
    assert SubmitResultRepository(database).for_message("m-00001") == [submit]
    message = MessageRepository(database).get("m-00001")
    assert message is not None and message.last_status == "DELIVERED"
    database.dispose()
