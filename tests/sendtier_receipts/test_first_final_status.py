"""A forged, replayed or unsigned report never becomes a message's first final status."""

from __future__ import annotations

import msgspec
from gateway_helpers import (
    ALIYUN,
    TWILIO,
    aliyun_push,
    aliyun_report,
    gateway,
    outbound,
    publish_submits,
    settings_for,
    submit_result,
    twilio_push,
    until,
)

from sendtier.persist import PersistService
from sendtier.storage import Database, MessageRepository, ReceiptRepository
from smsplatform.bus import SUBMIT, MemoryBus
from smsplatform.clock import ManualClock

# Alibaba-style, known only by the addresses it pushes from (the tests push from 127.0.0.1).
ALIYUN_FAR = "aliyun-far"


async def test_only_the_suppliers_own_reports_set_a_messages_first_final_status(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    far = {
        "name": ALIYUN_FAR,
        "account": {"dialect": "aliyun", "access_key_id": "ak", "access_key_secret": "s"},
        "base_url": "http://127.0.0.1:1",
        "callback_allowed_ips": ["192.0.2.0/24"],
    }
    settings = settings_for(str(database.url), suppliers=[far])
    submits = [
        submit_result(1),
        submit_result(2, supplier=ALIYUN),
        submit_result(3, supplier=ALIYUN_FAR),
    ]
    failed = {"success": False, "err_code": "MK:0001"}
    persist = PersistService(settings, bus, database, clock)
    await persist.start()
    try:
        async with gateway(settings, bus, database, clock) as (client, service):
            for submit in submits:
                await bus.publish(SUBMIT, msgspec.msgpack.encode(outbound(submit.message_id)))
            await publish_submits(bus, submits)
            await until(lambda: service.feed.indexed == len(submits))
            sid = str(submits[0].supplier_message_id)
            # A tenant who knows its messages' ids tries to make them fail.
            refused = [
                await twilio_push(client, sid, "undelivered", auth_token="a-guess"),
                await aliyun_push(client, [aliyun_report("biz-2", **failed)], token=""),
                await client.post(
                    f"/v1/callbacks/{ALIYUN_FAR}",
                    content=msgspec.json.encode([aliyun_report("biz-3", **failed)]),
                ),
            ]
            # The suppliers' own reports, the first one pushed twice.
            taken = [
                await twilio_push(client, sid, "delivered"),
                await twilio_push(client, sid, "delivered"),
                await aliyun_push(client, [aliyun_report("biz-2")]),
            ]
        await until(lambda: ReceiptRepository(database).count() == 2)
    finally:
        await persist.stop()

    assert [answer.status_code for answer in refused] == [400, 400, 400]
    assert [answer.status_code for answer in taken] == [200, 200, 200]
    messages = MessageRepository(database)
    statuses = {}
    for submit in submits:
        message = messages.get(submit.message_id)
        assert message is not None
        statuses[submit.supplier] = message.last_status
    assert statuses == {TWILIO: "DELIVERED", ALIYUN: "DELIVERED", ALIYUN_FAR: None}
    assert [r.status for r in ReceiptRepository(database).for_message("m-00001")] == ["DELIVERED"]
