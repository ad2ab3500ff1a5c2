"""Multi-recipient calls against the simulators: Alibaba SendBatchSms, Tencent PhoneNumberSet,
CMPP-style `mobile` lists. Each recipient's outcome comes back on its own request, and each
accepted recipient's receipt names the submit it belongs to."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from adapter_receiver import running_receiver
from adapter_settings import CALLBACK_TOKEN, otp_request, supplier

from smsplatform.clock import system_clock
from suppliers.base import BatchSubmitAdapter, SubmitErrorClass, SubmitRequest
from suppliers.registry import make_adapter, make_callback_reader
from testbench.simulators.config import SimulatorConfig
from testbench.simulators.plan import parse_plan
from testbench.simulators.server import RunningSimulator, running_simulator

pytestmark = pytest.mark.asyncio(loop_scope="module")
FAST = {
    "submit": {"latency": {"kind": "fixed", "median_ms": 0}},
    "receipts": {"delay": {"kind": "fixed", "median_ms": 0}, "batching": {"max_per_push": 50}},
}
PHONES = [f"+86139{n:08d}" for n in range(1, 6)]


def notification(n: int, phone: str) -> SubmitRequest:
    base = otp_request(f"msg-{n}", phone)
    return dataclasses.replace(
        base,
        message_class="notification",
        template_params={"code": f"{n:04d}", "minutes": "5"},
        content=f"【阿里云】您的验证码是{n:04d}，5分钟内有效。",
    )


@dataclasses.dataclass
class BatchWorld:
    sim: RunningSimulator
    adapter: BatchSubmitAdapter
    dialect: str


@pytest_asyncio.fixture(loop_scope="module", params=["aliyun", "tencent", "cmpp"])
async def world(request: pytest.FixtureRequest) -> AsyncIterator[tuple[BatchWorld, list]]:
    dialect = request.param
    reader = make_callback_reader(supplier(dialect, callback_token=CALLBACK_TOKEN))
    async with running_receiver() as gateway:
        config = SimulatorConfig(
            account=supplier(dialect).account,
            callback_url=f"{gateway.base_url}/cb/{dialect}?token={CALLBACK_TOKEN}",
            plan=FAST,
            background_push=False,
        )
        async with running_simulator(config, graceful_shutdown_s=0.05) as sim:
            adapter = make_adapter(supplier(dialect, sim.base_url), system_clock)
            assert isinstance(adapter, BatchSubmitAdapter)
            try:

                async def reports() -> list:
                    await sim.flush()
                    found = []
                    for push in gateway.requests:
                        url = f"{gateway.base_url}{push.path}?{push.query}"
                        assert reader.verify(url, push.headers, push.body)
                        found += reader.parse(url, push.headers, push.body)
                    return found

                yield BatchWorld(sim, adapter, dialect), [reports]
            finally:
                await adapter.aclose()


def shared_text(requests: list[SubmitRequest]) -> list[SubmitRequest]:
    """Tencent and CMPP calls carry one text: give every request the first one's."""
    first = requests[0]
    return [
        dataclasses.replace(r, template_params=first.template_params, content=first.content)
        for r in requests
    ]


async def test_one_call_answers_every_recipient_and_their_receipts_find_their_submits(
    world: tuple[BatchWorld, list],
) -> None:
    batch, (reports,) = world
    requests = [notification(n, phone) for n, phone in enumerate(PHONES)]
    if batch.dialect != "aliyun":
        requests = shared_text(requests)
    assert len({batch.adapter.batch_key(r) for r in requests}) == 1

    outcomes = await batch.adapter.submit_batch(requests)

    assert isinstance(outcomes, list) and all(o.accepted for o in outcomes), outcomes
    assert batch.sim.engine.counters.requests == 1  # one call for five recipients
    ids = [o.supplier_message_id for o in outcomes]
    assert len(set(ids)) == len(PHONES) and None not in ids
    found = {}
    for report in await reports():
        key = report.recipient_id or report.supplier_message_id
        found[key] = report
    assert set(ids) <= set(found), (ids, list(found))
    for supplier_id, phone in zip(ids, PHONES, strict=True):
        reported = found[supplier_id].phone
        assert reported is not None and reported.endswith(phone[3:])


async def test_a_bad_number_fails_alone_where_the_supplier_answers_per_number(
    world: tuple[BatchWorld, list],
) -> None:
    batch, _ = world
    batch.sim.engine.set_plan(parse_plan({**FAST, "opted_out": [PHONES[1]]}), reset=True)
    requests = shared_text([notification(n, phone) for n, phone in enumerate(PHONES)])

    outcomes = await batch.adapter.submit_batch(requests)

    if batch.dialect == "aliyun":
        # Alibaba accepts a blacklisted number and fails it in its receipt (MBBLACK).
        assert isinstance(outcomes, list) and all(o.accepted for o in outcomes)
        return
    assert isinstance(outcomes, list)
    assert [o.accepted for o in outcomes] == [True, False, True, True, True]
    assert outcomes[1].error_class is SubmitErrorClass.PERMANENT


async def test_a_suspended_account_fails_every_recipient_as_supplier_wide(
    world: tuple[BatchWorld, list],
) -> None:
    batch, _ = world
    batch.sim.engine.set_plan(parse_plan({**FAST, "outages": [{"mode": "suspended"}]}), reset=True)
    requests = shared_text([notification(n, phone) for n, phone in enumerate(PHONES)])

    answer = await batch.adapter.submit_batch(requests)

    # Alibaba and Tencent refuse the call; the CMPP-style API answers per number.
    outcomes = answer if isinstance(answer, list) else [answer] * len(requests)
    assert len(outcomes) == len(requests)
    assert {o.error_class for o in outcomes} == {SubmitErrorClass.SUPPLIER_WIDE}
