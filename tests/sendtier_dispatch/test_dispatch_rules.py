"""The submit-error rules of SUPPLIERS.md §7.2, as a user of the bus sees them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from dispatch_helpers import (
    CALLBACK_BASE,
    T0,
    ClockSleeper,
    EventReader,
    ScriptedSupplier,
    accepted,
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

from sendtier.dispatch import Dispatcher
from smsplatform.bus import SUBMIT, MemoryBus
from smsplatform.clock import ManualClock
from suppliers.base import SubmitErrorClass, SubmitOutcome, SubmitRequest

Script = Callable[[SubmitRequest], SubmitOutcome]
ACCEPT: Script = lambda _: accepted()  # noqa: E731

# "main" takes every first attempt; "backup" is a standby, used only for retries.
ROUTES = [
    route("*", "otp", {"main": 1, "backup": 0}),
    route("*", "notification", {"main": 1, "backup": 0}),
]
ROUTE_ORDER = ("main", "backup")
SETTINGS = settings_for(ROUTES, {"main": {"templates": {"verify": "SMS_1001"}}, "backup": {}})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def bus(clock: ManualClock) -> AsyncIterator[MemoryBus]:
    memory = MemoryBus(clock=clock)
    await memory.start()
    yield memory
    await memory.close()


def suppliers(clock: ManualClock, **scripts: Script) -> list[ScriptedSupplier]:
    return [ScriptedSupplier(name, clock, script=scripts.get(name, ACCEPT)) for name in ROUTE_ORDER]


async def test_accepted_submit_is_published_with_the_supplier_id_and_the_message_acked(
    bus: MemoryBus, clock: ManualClock
) -> None:
    main, backup = suppliers(clock)
    reader = EventReader(bus)
    async with running(SETTINGS, bus, [main, backup], clock=clock):
        await publish_messages(bus, [message(1)])
        await reader.collect(results=1)
        await settled(bus)

    [result] = reader.results
    assert (result.message_id, result.supplier, result.attempt) == ("msg-00001", "main", 1)
    assert result.accepted and result.supplier_message_id == "sid-1"
    assert result.error_class is None and result.at == T0
    [call] = main.calls
    assert call.request.template_id == "SMS_1001"  # the supplier's own template code
    assert call.request.callback_url == f"{CALLBACK_BASE}/v1/callbacks/main?mid=msg-00001"
    assert backup.calls == []


async def test_retriable_failure_is_retried_on_the_next_supplier_keeping_the_message_id(
    bus: MemoryBus, clock: ManualClock
) -> None:
    main, backup = suppliers(
        clock, main=answers(failed(SubmitErrorClass.RETRIABLE, "isp.SYSTEM_ERROR"))
    )
    reader = EventReader(bus)
    async with running(SETTINGS, bus, [main, backup], clock=clock):
        await publish_messages(bus, [message(2)])
        await reader.collect(results=2)
        await settled(bus)

    first, second = reader.for_message("msg-00002")
    assert (first.supplier, first.attempt, first.accepted) == ("main", 1, False)
    assert (first.error_code, first.error_class) == ("isp.SYSTEM_ERROR", "retriable")
    assert (second.supplier, second.attempt, second.accepted) == ("backup", 2, True)
    assert backup.message_ids == ["msg-00002"]


async def test_each_supplier_is_tried_once_then_the_failure_is_final(
    bus: MemoryBus, clock: ManualClock
) -> None:
    always_5xx = lambda _: failed(SubmitErrorClass.RETRIABLE, "HTTP_503")  # noqa: E731
    main, backup = suppliers(clock, main=always_5xx, backup=always_5xx)
    reader = EventReader(bus)
    async with running(SETTINGS, bus, [main, backup], clock=clock):
        await publish_messages(bus, [message(3)])
        await reader.collect(results=2)
        await settled(bus)

    assert [(r.supplier, r.attempt) for r in reader.results] == [("main", 1), ("backup", 2)]
    assert len(main.calls) == len(backup.calls) == 1


@pytest.mark.parametrize(
    ("error_class", "code"),
    [
        (SubmitErrorClass.PERMANENT, "isv.MOBILE_NUMBER_ILLEGAL"),
        (SubmitErrorClass.RECIPIENT_LIMIT, "isv.BUSINESS_LIMIT_CONTROL"),
    ],
)
async def test_message_level_refusal_is_final_and_never_tried_elsewhere(
    bus: MemoryBus, clock: ManualClock, error_class: SubmitErrorClass, code: str
) -> None:
    main, backup = suppliers(clock, main=lambda _: failed(error_class, code))
    reader = EventReader(bus)
    async with running(SETTINGS, bus, [main, backup], clock=clock):
        await publish_messages(bus, [message(4)])
        await reader.collect(results=1)
        await settled(bus)

    [result] = reader.results
    assert (result.supplier, result.error_code, result.error_class) == ("main", code, error_class)
    assert backup.calls == []


@pytest.mark.parametrize(("message_class", "retried"), [("otp", True), ("notification", False)])
async def test_timed_out_submit_is_retried_elsewhere_only_for_otp(
    bus: MemoryBus, clock: ManualClock, message_class: str, retried: bool
) -> None:
    main, backup = suppliers(clock, main=answers(failed(SubmitErrorClass.TIMEOUT, "TIMEOUT")))
    reader = EventReader(bus)
    async with running(SETTINGS, bus, [main, backup], clock=clock):
        await publish_messages(bus, [message(5, message_class)])  # type: ignore[arg-type]
        await reader.collect(results=2 if retried else 1)
        await settled(bus)

    assert reader.results[0].error_class == "timeout"
    assert backup.message_ids == (["msg-00005"] if retried else [])
    assert len(reader.results) == (2 if retried else 1)


async def test_throttled_supplier_is_backed_off_alone_until_its_retry_after(
    bus: MemoryBus, clock: ManualClock
) -> None:
    main, backup = suppliers(
        clock, main=answers(failed(SubmitErrorClass.THROTTLED, "Throttling.User", 10.0))
    )
    reader = EventReader(bus)
    async with running(SETTINGS, bus, [main, backup], clock=clock, sleep=ClockSleeper(clock)):
        await publish_messages(bus, [message(6)])
        await reader.collect(results=2)
        await publish_messages(bus, [message(7), message(8)])
        await reader.collect(results=4)
        await settled(bus)
        clock.advance(10.0)
        await publish_messages(bus, [message(9)])
        await reader.collect(results=5)
        await settled(bus)

    assert [(r.message_id, r.supplier, r.attempt, r.error_class) for r in reader.results] == [
        ("msg-00006", "main", 1, "throttled"),
        ("msg-00006", "backup", 2, None),
        ("msg-00007", "backup", 1, None),
        ("msg-00008", "backup", 1, None),
        ("msg-00009", "main", 1, None),
    ]


async def test_briefly_throttled_only_supplier_is_waited_for_and_tried_again(
    bus: MemoryBus, clock: ManualClock
) -> None:
    settings = settings_for([route("*", "otp", {"main": 1})], {"main": {}})
    main = ScriptedSupplier(
        "main", clock, script=answers(failed(SubmitErrorClass.THROTTLED, "Throttling", 0.5))
    )
    reader = EventReader(bus)
    async with running(settings, bus, [main], clock=clock, sleep=ClockSleeper(clock)):
        await publish_messages(bus, [message(10)])
        await reader.collect(results=2)
        await settled(bus)

    assert [(r.attempt, r.accepted) for r in reader.results] == [(1, False), (2, True)]
    assert main.calls[1].at - main.calls[0].at == pytest.approx(0.5)


async def test_supplier_wide_failure_skips_the_supplier_and_tells_the_control_plane(
    bus: MemoryBus, clock: ManualClock
) -> None:
    main, backup = suppliers(
        clock, main=answers(failed(SubmitErrorClass.SUPPLIER_WIDE, "isv.AMOUNT_NOT_ENOUGH"))
    )
    reader = EventReader(bus)
    async with running(SETTINGS, bus, [main, backup], clock=clock):
        await publish_messages(bus, [message(11)])
        await reader.collect(results=2, logs=1)
        await publish_messages(bus, [message(12)])
        await reader.collect(results=3)
        await settled(bus)

    assert [(r.message_id, r.supplier) for r in reader.results] == [
        ("msg-00011", "main"),
        ("msg-00011", "backup"),
        ("msg-00012", "backup"),
    ]
    assert main.message_ids == ["msg-00011"]
    [log] = reader.logs
    assert (log.supplier, log.level, log.code) == ("main", "ERROR", "isv.AMOUNT_NOT_ENOUGH")
    assert log.fields["error_class"] == "supplier_wide"
    assert log.fields["message_id"] == "msg-00011"


async def test_deferred_message_is_left_on_the_bus_and_sent_when_redelivered(
    bus: MemoryBus, clock: ManualClock
) -> None:
    main, backup = suppliers(
        clock,
        main=answers(failed(SubmitErrorClass.DEFERRED, "MarketingSendTimeConstraint")),
    )
    reader = EventReader(bus)
    async with running(SETTINGS, bus, [main, backup], clock=clock) as dispatcher:
        await publish_messages(bus, [message(13)])
        await reader.collect(results=1)
        await wait_for(lambda: handled(dispatcher, "later") == 1)
        assert await bus.pending(SUBMIT, "dispatch") == 1
        assert backup.calls == []

        clock.advance(SETTINGS.dispatch.ack_wait_s)
        await reader.collect(results=2)
        await settled(bus)

    assert [(r.supplier, r.attempt, r.accepted) for r in reader.results] == [
        ("main", 1, False),
        ("main", 1, True),
    ]
    assert main.message_ids == ["msg-00013", "msg-00013"]


def handled(dispatcher: Dispatcher, disposition: str) -> float:
    """Bus messages the dispatcher finished with this disposition, from its metrics."""
    value = dispatcher.metrics.registry.get_sample_value(
        "smsctl_dispatch_messages_total", {"disposition": disposition}
    )
    return value or 0.0
