"""Cut-over on the distributed engine: receipts from JetStream, versions in MariaDB, tables
published on `cp.routing` for dispatchers to decode."""

from __future__ import annotations

import asyncio

import msgspec

from controlplane.actions.cutover_service import CutoverService
from controlplane.storage import CONTROL_PLANE_HISTORY, Database
from smsplatform.bus import RECEIPTS, ROUTING, JetStreamBus
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import ManualClock
from smsplatform.contracts import RoutingTable, encode_batch
from tests.actions_cutover.service_world import RecordingSink
from tests.actions_cutover.world import SUPPLIERS, T0, cutover_settings, receipt


async def test_receipts_on_jetstream_cut_a_supplier_over_and_the_table_is_published(
    nats_url: str, unique_name: str, mariadb_url: str
) -> None:
    clock = ManualClock(T0)
    bus = JetStreamBus(nats_url, stream=unique_name, namespace=unique_name)
    await bus.start()
    database = Database(mariadb_url)
    await asyncio.to_thread(database.upgrade, CONTROL_PLANE_HISTORY)
    service = CutoverService(
        cutover_settings(), database, bus, RecordingSink(), clock, LivenessRegistry(clock)
    )
    tables: list[RoutingTable] = []
    try:
        await service.start()
        healthy = [receipt(s, True, T0) for s in SUPPLIERS for _ in range(20)]
        failing = [receipt("twilio", False, T0, carrier="cucc") for _ in range(30)]
        await bus.publish(RECEIPTS, encode_batch(healthy))
        await bus.publish(RECEIPTS, encode_batch(failing))
        reader = await bus.subscribe(ROUTING, "test-dispatcher")
        async with asyncio.timeout(10):
            while len(tables) < 2:
                for delivery in await reader.fetch(10, timeout=0.2):
                    tables.append(msgspec.msgpack.decode(delivery.data, type=RoutingTable))
                    await delivery.ack()
        await reader.close()
    finally:
        await service.stop()
        await bus.delete_stream()
        await bus.close()
        database.dispose()
    assert [t.version for t in tables] == [1, 2]
    newest = tables[-1]
    assert newest.changed_by == "health-model"
    states = {
        (r.carrier, r.message_class, e.supplier): e.state
        for r in newest.routes
        for e in r.suppliers
    }
    assert states[("cucc", "otp", "twilio")] == "ejected"
    assert states[("cmcc", "otp", "twilio")] == "active"
