"""Dispatch folds concurrent submits to one supplier into multi-recipient calls, and keeps every
message's answer its own: per-recipient results, splits of calls refused for one recipient,
one back-off for a throttled call."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from dispatch_helpers import T0, ScriptedSupplier, accepted, failed, settings_for

from sendtier.dispatch.calls import SupplierCaller
from sendtier.dispatch.limits import THROTTLE_BACKOFF_S, SupplierGates
from sendtier.dispatch.metrics import DispatchMetrics
from smsplatform.clock import ManualClock
from suppliers.base import SubmitErrorClass, SubmitOutcome, SubmitRequest

C = SubmitErrorClass


def request(n: int, *, template: str = "shipped", phone: str | None = None) -> SubmitRequest:
    return SubmitRequest(
        message_id=f"m-{n}",
        phone=phone or f"+86139{n:08d}",
        carrier="cmcc",
        message_class="notification",
        sign_name="商城",
        template_id=template,
        template_params={"order": str(n)},
        content=f"【商城】订单{n}已发货",
    )


@dataclass
class BatchingSupplier(ScriptedSupplier):
    """A stand-in for a supplier API with a batch call (like Alibaba's SendBatchSms)."""

    batch_limit: int = 3
    # Answers a batch call: per-recipient outcomes, or one outcome for the whole call.
    batch_script: object = None
    batches: list[list[SubmitRequest]] = field(default_factory=list)

    @property
    def max_batch(self) -> int:
        return self.batch_limit

    def batch_key(self, request: SubmitRequest) -> Hashable | None:
        return request.template_id

    async def submit_batch(
        self, requests: Sequence[SubmitRequest]
    ) -> list[SubmitOutcome] | SubmitOutcome:
        self.batches.append(list(requests))
        if callable(self.batch_script):
            return self.batch_script(requests)
        return [accepted(f"sid-{r.message_id}") for r in requests]


def caller_for(
    supplier: BatchingSupplier, clock: ManualClock
) -> tuple[SupplierCaller, SupplierGates]:
    settings = settings_for([], {supplier.name: {"tps": 10_000, "max_concurrency": 1}})
    gates = SupplierGates(settings.suppliers, clock.monotonic())
    return SupplierCaller(
        supplier.name, supplier, gates, DispatchMetrics(), clock, asyncio.sleep
    ), gates


async def test_concurrent_submits_of_one_template_share_a_call_and_get_their_own_ids() -> None:
    clock = ManualClock(T0)
    supplier = BatchingSupplier("alpha", clock, batch_limit=100)
    caller, _ = caller_for(supplier, clock)

    answers = await asyncio.gather(*(caller.submit(request(n)) for n in range(5)))

    assert [len(batch) for batch in supplier.batches] == [5]
    assert [a.outcome.supplier_message_id for a in answers] == [f"sid-m-{n}" for n in range(5)]
    assert supplier.calls == []  # nothing went singly


async def test_a_call_holds_at_most_the_suppliers_batch_limit() -> None:
    clock = ManualClock(T0)
    supplier = BatchingSupplier("alpha", clock, batch_limit=3)
    caller, _ = caller_for(supplier, clock)

    answers = await asyncio.gather(*(caller.submit(request(n)) for n in range(7)))

    # Two full calls; the one left over goes as a plain single submit.
    assert [len(batch) for batch in supplier.batches] == [3, 3]
    assert len(supplier.calls) == 1
    assert all(a.outcome.accepted for a in answers)
    sent = [r.message_id for batch in supplier.batches for r in batch] + supplier.message_ids
    assert sorted(sent) == sorted(f"m-{n}" for n in range(7))


async def test_different_templates_and_repeated_numbers_never_share_a_call() -> None:
    clock = ManualClock(T0)
    supplier = BatchingSupplier("alpha", clock, batch_limit=100)
    caller, _ = caller_for(supplier, clock)
    requests = [
        request(1),
        request(2, template="sale"),
        request(3),
        request(4, phone=request(1).phone),  # the same number again: alone
    ]

    await asyncio.gather(*(caller.submit(r) for r in requests))

    assert [sorted(r.message_id for r in batch) for batch in supplier.batches] == [["m-1", "m-3"]]
    assert sorted(supplier.message_ids) == ["m-2", "m-4"]


async def test_per_recipient_failures_stay_with_their_own_message() -> None:
    clock = ManualClock(T0)

    def one_bad_number(requests: Sequence[SubmitRequest]) -> list[SubmitOutcome]:
        return [
            failed(C.PERMANENT, "InvalidParameterValue.IncorrectPhoneNumber")
            if r.message_id == "m-1"
            else accepted(f"sid-{r.message_id}")
            for r in requests
        ]

    supplier = BatchingSupplier("alpha", clock, batch_limit=100, batch_script=one_bad_number)
    caller, _ = caller_for(supplier, clock)

    answers = await asyncio.gather(*(caller.submit(request(n)) for n in range(3)))

    assert [a.outcome.accepted for a in answers] == [True, False, True]
    assert answers[1].outcome.error_class is C.PERMANENT


async def test_a_call_refused_for_one_recipients_limit_is_resent_one_by_one() -> None:
    clock = ManualClock(T0)
    limited = request(1)

    def single(r: SubmitRequest) -> SubmitOutcome:
        if r.message_id == limited.message_id:
            return failed(C.RECIPIENT_LIMIT, "isv.BUSINESS_LIMIT_CONTROL")
        return accepted(f"sid-{r.message_id}")

    supplier = BatchingSupplier(
        "alpha",
        clock,
        script=single,
        batch_limit=100,
        # Alibaba answers the whole call with the one recipient's code.
        batch_script=lambda _: failed(C.RECIPIENT_LIMIT, "isv.BUSINESS_LIMIT_CONTROL"),
    )
    caller, _ = caller_for(supplier, clock)

    answers = await asyncio.gather(*(caller.submit(request(n)) for n in range(3)))

    assert len(supplier.batches) == 1
    assert sorted(supplier.message_ids) == ["m-0", "m-1", "m-2"]
    assert [a.outcome.error_class for a in answers] == [None, C.RECIPIENT_LIMIT, None]
    assert answers[0].outcome.supplier_message_id == "sid-m-0"


async def test_a_throttled_call_backs_the_supplier_off_once_for_all_its_messages() -> None:
    clock = ManualClock(T0)
    supplier = BatchingSupplier(
        "alpha", clock, batch_limit=100, batch_script=lambda _: failed(C.THROTTLED, "Throttling")
    )
    caller, gates = caller_for(supplier, clock)

    answers = await asyncio.gather(*(caller.submit(request(n)) for n in range(10)))

    assert {a.outcome.error_class for a in answers} == {C.THROTTLED}
    # The first step of the back-off, as after one throttled submit, not ten steps up.
    assert {a.skipped_s for a in answers} == {THROTTLE_BACKOFF_S}
    unavailable = gates.unavailable("alpha", clock.monotonic())
    assert unavailable is not None and unavailable.reason == "throttled"


async def test_a_supplier_without_batch_calls_gets_one_call_per_message() -> None:
    clock = ManualClock(T0)
    supplier = ScriptedSupplier("alpha", clock)
    settings = settings_for([], {"alpha": {}})
    gates = SupplierGates(settings.suppliers, clock.monotonic())
    caller = SupplierCaller("alpha", supplier, gates, DispatchMetrics(), clock, asyncio.sleep)

    await asyncio.gather(*(caller.submit(request(n)) for n in range(4)))

    assert sorted(supplier.message_ids) == [f"m-{n}" for n in range(4)]


async def test_a_waiting_message_cancelled_leaves_the_others_answered() -> None:
    clock = ManualClock(T0)
    gate = asyncio.Event()

    async def slow_batch(requests: Sequence[SubmitRequest]) -> list[SubmitOutcome]:
        await gate.wait()
        return [accepted(f"sid-{r.message_id}") for r in requests]

    supplier = BatchingSupplier("alpha", clock, batch_limit=100)
    supplier.submit_batch = slow_batch  # type: ignore[method-assign]
    caller, _ = caller_for(supplier, clock)
    tasks = [asyncio.create_task(caller.submit(request(n))) for n in range(3)]
    await asyncio.sleep(0.01)
    tasks[0].cancel()
    gate.set()

    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert isinstance(results[0], asyncio.CancelledError)
    assert [r.outcome.supplier_message_id for r in results[1:]] == ["sid-m-1", "sid-m-2"]
    await caller.close()
