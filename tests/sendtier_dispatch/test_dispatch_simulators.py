"""Dispatch through real adapters to running supplier simulators: an empty balance fails over."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from dispatch_helpers import (
    CALLBACK_BASE,
    EventReader,
    dispatch_database,
    message,
    publish_messages,
    settled,
)

from sendtier.dispatch import Dispatcher
from sendtier.settings import SendTierSettings
from smsplatform.bus import MemoryBus
from smsplatform.clock import system_clock
from suppliers.registry import make_adapter
from testbench.simulators import SimulatorConfig, running_simulator

ACCOUNTS: dict[str, dict[str, Any]] = {
    "aliyun-main": {
        "dialect": "aliyun",
        "access_key_id": "LTAI-dispatch-test",
        "access_key_secret": "aliyun-secret-0123456789",
    },
    "cmpp-backup": {"dialect": "cmpp", "account": "acct01", "secret": "cmpp-secret-0123456789"},
}
# No latency, receipts pushed only on demand: a run takes milliseconds.
FAST_PLAN: dict[str, Any] = {"submit": {"latency": {"kind": "fixed", "median_ms": 0}}}


async def started_simulators(
    stack: AsyncExitStack, plans: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """Start one simulator per supplier; their base URLs by supplier name."""
    urls = {}
    for name, account in ACCOUNTS.items():
        config = SimulatorConfig.model_validate(
            {
                "account": account,
                "callback_url": f"{CALLBACK_BASE}/v1/callbacks/{name}",
                "plan": {**FAST_PLAN, **plans.get(name, {})},
                "background_push": False,
            }
        )
        sim = await stack.enter_async_context(running_simulator(config, graceful_shutdown_s=0))
        urls[name] = sim.base_url
    return urls


async def test_empty_balance_at_the_first_supplier_fails_over_and_is_reported() -> None:
    bus = MemoryBus()
    await bus.start()
    async with AsyncExitStack() as stack:
        urls = await started_simulators(stack, {"aliyun-main": {"balance": {"initial_units": 1}}})
        settings = SendTierSettings.model_validate(
            {
                "dispatch": {
                    "default_routes": [
                        {
                            "carrier": "*",
                            "message_class": "otp",
                            "suppliers": {"aliyun-main": 1, "cmpp-backup": 0},
                        }
                    ]
                },
                "receipts": {"public_url": CALLBACK_BASE},
                "suppliers": [
                    {"name": name, "account": account, "base_url": urls[name], "timeout_s": 2}
                    for name, account in ACCOUNTS.items()
                ],
            }
        )
        adapters = {s.name: make_adapter(s, system_clock) for s in settings.suppliers}
        for adapter in adapters.values():
            stack.push_async_callback(adapter.aclose)
        database = stack.enter_context(dispatch_database())
        dispatcher = Dispatcher(settings, bus, adapters, database=database)
        await dispatcher.start()
        stack.push_async_callback(dispatcher.stop)
        # Distinct, non-magic numbers: the simulators' per-recipient OTP limits stay out of it.
        messages = [message(n, phone=f"+861391234{n:04d}") for n in range(1, 4)]
        reader = EventReader(bus)
        for one in messages:  # one by one: the second must find the balance already spent
            await publish_messages(bus, [one])
            await settled(bus)
        await reader.collect(results=4, logs=1)
    await bus.close()

    outcomes = [(r.message_id, r.supplier, r.attempt, r.accepted) for r in reader.results]
    assert outcomes == [
        ("msg-00001", "aliyun-main", 1, True),
        ("msg-00002", "aliyun-main", 1, False),
        ("msg-00002", "cmpp-backup", 2, True),
        ("msg-00003", "cmpp-backup", 1, True),
    ]
    refused = reader.results[1]
    assert (refused.error_code, refused.error_class) == ("isv.AMOUNT_NOT_ENOUGH", "supplier_wide")
    assert all(r.supplier_message_id for r in reader.results if r.accepted)
    [log] = reader.logs
    assert (log.supplier, log.level, log.code) == ("aliyun-main", "ERROR", "isv.AMOUNT_NOT_ENOUGH")
