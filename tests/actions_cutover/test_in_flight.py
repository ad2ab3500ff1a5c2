"""Messages in flight during a cut-over: a submit failing on the ejected supplier is retried on
another supplier of the route, once, with its message id; new messages avoid the ejected one."""

from __future__ import annotations

import asyncio
import random

from controlplane.actions.cutover_service import CutoverService
from controlplane.storage import CONTROL_PLANE_HISTORY, Database
from smsplatform.bus import MemoryBus
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import ManualClock
from suppliers.base import SubmitErrorClass
from tests.actions_cutover.service_world import RecordingSink
from tests.actions_cutover.world import one_route, receipt
from tests.sendtier_dispatch.dispatch_helpers import (
    T0,
    EventReader,
    ScriptedSupplier,
    answers,
    failed,
    message,
    publish_messages,
    route,
    running,
    settings_for,
    settled,
    wait_for,
)

WEIGHTS = {"aliyun": 3.0, "cmpp": 1.0}


class FirstChoice(random.Random):
    """Always draws the start of the range: the heaviest supplier is the first choice."""

    def random(self) -> float:
        return 0.0


async def test_submit_failing_on_a_supplier_ejected_mid_flight_is_retried_on_another(
    sqlite_url: str,
) -> None:
    clock = ManualClock(T0)
    bus = MemoryBus(clock=clock)
    await bus.start()
    database = Database(sqlite_url)
    database.upgrade(CONTROL_PLANE_HISTORY)
    cutover = CutoverService(
        one_route(WEIGHTS, safety={"min_dwell_s": 0}),
        database,
        bus,
        RecordingSink(),
        clock,
        LivenessRegistry(clock),
    )
    gate = asyncio.Event()
    aliyun = ScriptedSupplier(
        "aliyun", clock, script=answers(failed(SubmitErrorClass.RETRIABLE, "500")), gate=gate
    )
    cmpp = ScriptedSupplier("cmpp", clock)
    settings = settings_for([route("cmcc", "otp", WEIGHTS)], {"aliyun": {}, "cmpp": {}})
    reader = EventReader(bus)
    try:
        await cutover.start(consume=False)
        async with running(
            settings, bus, [aliyun, cmpp], clock=clock, rng=FirstChoice()
        ) as dispatch:
            await wait_for(lambda: dispatch.route_book.version == 1)
            await publish_messages(bus, [message(1)])
            await asyncio.wait_for(aliyun.started.wait(), 3)  # msg 1 is in flight at aliyun
            # aliyun's receipts fail: the control plane ejects it while msg 1 waits.
            await cutover.observe_receipts([receipt("aliyun", False, T0) for _ in range(30)])
            await wait_for(lambda: dispatch.route_book.version == 2)
            gate.set()  # aliyun answers msg 1 with a 5xx
            await publish_messages(bus, [message(2)])
            await reader.collect(results=3)
            await settled(bus)
    finally:
        await cutover.stop()
        await bus.close()
        database.dispose()
    first, second = reader.for_message("msg-00001")
    assert (first.supplier, first.attempt, first.accepted) == ("aliyun", 1, False)
    assert (second.supplier, second.attempt, second.accepted) == ("cmpp", 2, True)
    assert [r.supplier for r in reader.for_message("msg-00002")] == ["cmpp"]
    assert aliyun.message_ids == ["msg-00001"]
    assert cmpp.message_ids == ["msg-00001", "msg-00002"]
