"""Adapters against the supplier simulators: submits, error classes, throttling, balance, and
receipts pushed back and read by the dialect's callback reader."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from adapter_receiver import Recorded, Reply, SupplierReceiver, running_receiver
from adapter_settings import CALLBACK_TOKEN, otp_request, supplier

from smsplatform.clock import system_clock
from suppliers.base import (
    CallbackReader,
    SubmitErrorClass,
    SubmitRequest,
    SupplierAdapter,
)
from suppliers.registry import make_adapter, make_callback_reader
from suppliers.settings import SupplierSettings
from testbench.simulators.config import SimulatorConfig
from testbench.simulators.plan import parse_plan
from testbench.simulators.server import RunningSimulator, running_simulator

C = SubmitErrorClass
# No latency and receipts due at once, so a test runs in milliseconds.
# Simulators start once per dialect for the module: uvicorn start and stop cost ~0.2 s each.
pytestmark = pytest.mark.asyncio(loop_scope="module")
DIALECTS = ["aliyun", "tencent", "twilio", "cmpp"]
FAST: dict[str, Any] = {
    "submit": {"latency": {"kind": "fixed", "median_ms": 0}},
    "receipts": {"delay": {"kind": "fixed", "median_ms": 0}},
}
DELIVERED_PHONE = "+8613800000001"  # the simulators' magic numbers (SUPPLIERS.md §8)
FAILING_PHONE = "+8613800000002"
PLAIN_PHONE = "+8613912345678"  # no magic: the fault plan decides


@dataclass
class World:
    """A simulator, the adapter and reader configured for it, and our callback receiver."""

    sim: RunningSimulator
    settings: SupplierSettings
    adapter: SupplierAdapter
    reader: CallbackReader
    gateway: SupplierReceiver

    def plan(self, **knobs: Any) -> None:
        """A fresh plan: balance, throttle bucket and per-recipient windows start over."""
        self.sim.engine.set_plan(parse_plan({**FAST, **knobs}), reset=True)

    async def reset(self) -> None:
        self.plan()
        await self.sim.flush()  # receipts left by an earlier test go now, and are forgotten
        ok = self.reader.reply_ok()
        self.gateway.reset(Reply(ok.status_code, ok.body, content_type=ok.content_type))

    def pushes(self) -> list[tuple[str, Recorded]]:
        """Each push the simulator made, with the full URL it called."""
        return [
            (f"{self.gateway.base_url}{push.path}?{push.query}", push)
            for push in self.gateway.requests
        ]


@asynccontextmanager
async def running_world(dialect: str) -> AsyncIterator[World]:
    reader = make_callback_reader(supplier(dialect, callback_token=CALLBACK_TOKEN))
    async with running_receiver() as gateway:
        config = SimulatorConfig(
            account=supplier(dialect).account,
            callback_url=f"{gateway.base_url}/cb/{dialect}?token={CALLBACK_TOKEN}",
            plan=FAST,
            background_push=False,
        )
        async with running_simulator(config, graceful_shutdown_s=0.05) as sim:
            settings = supplier(dialect, sim.base_url, callback_token=CALLBACK_TOKEN)
            adapter = make_adapter(settings, system_clock)
            try:
                yield World(sim, settings, adapter, reader, gateway)
            finally:
                await adapter.aclose()


@pytest_asyncio.fixture(loop_scope="module", scope="module", params=DIALECTS)
async def shared_world(request: pytest.FixtureRequest) -> AsyncIterator[World]:
    async with running_world(request.param) as started:
        yield started


@pytest_asyncio.fixture(loop_scope="module")
async def world(shared_world: World) -> World:
    await shared_world.reset()
    return shared_world


def with_callback(request: SubmitRequest, gateway: SupplierReceiver) -> SubmitRequest:
    # Twilio takes the receipt URL per message; the others use the console-configured one.
    url = f"{gateway.base_url}/cb/twilio?mid={request.message_id}"
    return dataclasses.replace(request, callback_url=url)


async def test_accepted_submit_comes_back_as_verified_normalized_receipts(world: World) -> None:
    submit = world.adapter.submit
    delivered = await submit(with_callback(otp_request("msg-1", DELIVERED_PHONE), world.gateway))
    failed = await submit(with_callback(otp_request("msg-2", FAILING_PHONE), world.gateway))
    assert delivered.accepted and failed.accepted, (delivered, failed)
    await world.sim.flush()
    reports = []
    for url, push in world.pushes():
        assert world.reader.verify(url, push.headers, push.body)
        reports.extend(world.reader.parse(url, push.headers, push.body))
    finals = {r.supplier_message_id: r for r in reports if r.status is not None}
    assert delivered.supplier_message_id and failed.supplier_message_id
    assert finals[delivered.supplier_message_id].status == "DELIVERED"
    assert finals[failed.supplier_message_id].status == "FAILED"
    assert finals[failed.supplier_message_id].error_code
    if world.settings.account.dialect != "tencent":  # Tencent echoes our id in pulls only
        assert finals[delivered.supplier_message_id].message_id == "msg-1"


async def test_tampered_push_is_refused(world: World) -> None:
    request = with_callback(otp_request("msg-1", DELIVERED_PHONE), world.gateway)
    assert (await world.adapter.submit(request)).accepted
    await world.sim.flush()
    url, push = world.pushes()[-1]
    if world.settings.account.dialect in ("aliyun", "tencent"):
        # No signature on the body: the shared token in the URL is what proves the sender.
        forged_url = url.replace(CALLBACK_TOKEN, "guessed-token")
        assert not world.reader.verify(forged_url, push.headers, push.body)
    else:
        forged = push.body.replace(b"DELIVRD", b"UNDELIV").replace(b"delivered", b"failed")
        assert forged != push.body
        assert not world.reader.verify(url, push.headers, forged)


# One real code per class each dialect's simulator can answer with.
CODES_BY_DIALECT = {
    "aliyun": {
        "isp.SYSTEM_ERROR": C.RETRIABLE,
        "Throttling.User": C.THROTTLED,
        "isv.BUSINESS_LIMIT_CONTROL": C.RECIPIENT_LIMIT,
        "isv.MOBILE_NUMBER_ILLEGAL": C.PERMANENT,
        "isv.AMOUNT_NOT_ENOUGH": C.SUPPLIER_WIDE,
        "InternalError": C.RETRIABLE,
    },
    "tencent": {
        "InternalError.Timeout": C.RETRIABLE,
        "RequestLimitExceeded": C.THROTTLED,
        "LimitExceeded.PhoneNumberDailyLimit": C.RECIPIENT_LIMIT,
        "FailedOperation.PhoneNumberInBlacklist": C.PERMANENT,
        "FailedOperation.InsufficientBalanceInSmsPackage": C.SUPPLIER_WIDE,
        "FailedOperation.MarketingSendTimeConstraint": C.DEFERRED,
    },
    "twilio": {
        "20500": C.RETRIABLE,
        "20429": C.THROTTLED,
        "21211": C.PERMANENT,
        "20003": C.SUPPLIER_WIDE,
    },
    "cmpp": {
        "9": C.RETRIABLE,
        "8": C.THROTTLED,
        "http429": C.THROTTLED,
        "14": C.PERMANENT,
        "10": C.SUPPLIER_WIDE,
    },
}


async def test_simulated_error_codes_are_classified(world: World) -> None:
    expected = CODES_BY_DIALECT[world.settings.account.dialect]
    seen = {}
    for code in expected:
        world.plan(submit={**FAST["submit"], "error_rate": 1.0, "error_mix": {code: 1.0}})
        outcome = await world.adapter.submit(otp_request(f"msg-{code}", PLAIN_PHONE))
        assert not outcome.accepted
        seen[code] = outcome.error_class
    assert seen == expected


async def test_throttled_supplier_answers_throttled(world: World) -> None:
    world.plan(throttle={"qps": 0.01, "burst": 1})
    first = await world.adapter.submit(otp_request("m1", DELIVERED_PHONE))
    second = await world.adapter.submit(otp_request("m2", DELIVERED_PHONE))
    assert first.accepted
    assert (second.accepted, second.error_class) == (False, C.THROTTLED)


BALANCE_CASES = {
    "tencent": ("messages", "FailedOperation.InsufficientBalanceInSmsPackage"),
    "twilio": ("USD", None),  # Twilio takes the submit and fails it later (30002)
    "cmpp": ("messages", "10"),
}


@pytest.mark.parametrize("shared_world", sorted(BALANCE_CASES), indirect=True)
async def test_balance_is_read_and_an_empty_balance_stops_the_supplier(world: World) -> None:
    unit, empty_code = BALANCE_CASES[world.settings.account.dialect]
    world.plan(balance={"initial_units": 1})
    before = await world.adapter.balance()
    first = await world.adapter.submit(otp_request("m1", DELIVERED_PHONE))
    after = await world.adapter.balance()
    second = await world.adapter.submit(otp_request("m2", DELIVERED_PHONE))
    assert before is not None and after is not None
    assert (before.amount, before.unit) == (1.0, unit)
    assert first.accepted
    assert after.amount == 0.0
    if empty_code is not None:
        assert (second.error_code, second.error_class) == (empty_code, C.SUPPLIER_WIDE)


@pytest.mark.parametrize("shared_world", ["aliyun", "cmpp"], indirect=True)
async def test_account_without_a_prepaid_balance_reports_none(world: World) -> None:
    # Alibaba's SMS API has no balance call; the CMPP account here is unlimited (postpaid).
    assert await world.adapter.balance() is None


@pytest.mark.parametrize("shared_world", ["aliyun"], indirect=True)
async def test_hung_submit_is_a_timeout(world: World) -> None:
    world.plan(submit={**FAST["submit"], "timeout_rate": 1.0, "timeout_hang_ms": 2000})
    impatient = world.settings.model_copy(update={"timeout_s": 0.2})
    adapter = make_adapter(impatient, system_clock)
    outcome = await adapter.submit(otp_request("m1", DELIVERED_PHONE))
    await adapter.aclose()
    assert (outcome.error_code, outcome.error_class) == ("timeout", C.TIMEOUT)


async def test_supplier_outage_with_503_is_retriable_elsewhere(world: World) -> None:
    world.plan(outages=[{"mode": "http_503", "start_in_s": 0, "end_in_s": 60}])
    outcome = await world.adapter.submit(otp_request("m1", DELIVERED_PHONE))
    assert (outcome.accepted, outcome.error_class) == (False, C.RETRIABLE)


@pytest.mark.parametrize("shared_world", ["aliyun"], indirect=True)
async def test_connection_reset_before_any_answer_is_an_unknown_outcome(world: World) -> None:
    # The simulator's connect_refused drops each connection once opened: the request may have
    # been read, so the outcome is unknown and classed like a timeout (resend only OTP).
    world.plan(outages=[{"mode": "connect_refused", "start_in_s": 0, "end_in_s": 60}])
    outcome = await world.adapter.submit(otp_request("m1", DELIVERED_PHONE))
    assert (outcome.error_code, outcome.error_class) == ("transport_error", C.TIMEOUT)


async def test_revoked_credentials_take_the_supplier_out(world: World) -> None:
    world.plan(outages=[{"mode": "auth_fail", "start_in_s": 0, "end_in_s": 60}])
    outcome = await world.adapter.submit(otp_request("m1", DELIVERED_PHONE))
    assert (outcome.accepted, outcome.error_class) == (False, C.SUPPLIER_WIDE)
