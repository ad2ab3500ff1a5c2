"""The demo platform's Alibaba- and Tencent-style callbacks carry a shared token and need it."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from gateway_helpers import gateway, metric, publish_submits, published, submit_result, until

from sendtier.storage import Database
from smsplatform.bus import MemoryBus
from smsplatform.clock import ManualClock, system_clock
from smsplatform.config.settings import BusSettings, DatabaseSettings
from suppliers.base import SubmitRequest
from suppliers.registry import make_adapter
from suppliers.settings import SupplierSettings
from testbench.demo.platform import (
    ALIYUN_CODES,
    TENCENT_CODES,
    DemoPlatform,
    DemoPorts,
    demo_platform,
    platform_from,
    running_simulators,
    stand_in_simulators,
)
from testbench.simulators import FaultPlan

# Simulators on free ports, answering at once; receipts wait for a flush.
ANY_PORT = DemoPorts(simulators=(0, 0, 0, 0))
AT_ONCE = FaultPlan.model_validate(
    {
        "submit": {"latency": {"kind": "fixed", "median_ms": 0}},
        "receipts": {"delay": {"kind": "fixed", "median_ms": 0}},
    }
)
# A report each dialect would push, to try the token check on.
REPORTS: dict[str, list[dict[str, Any]]] = {
    "aliyun": [{"phone_number": "13800000001", "success": True, "biz_id": "biz-1"}],
    "tencent": [{"sid": "sid-1", "report_status": "SUCCESS", "mobile": "13800000001"}],
}
REFUSALS = {"aliyun": {"code": 400}, "tencent": {"result": 1}}


def demo_on(database: Database) -> DemoPlatform:
    return demo_platform(ANY_PORT, DatabaseSettings(url=str(database.url)), BusSettings())


@pytest.mark.parametrize("dialect", ["aliyun", "tencent"])
@pytest.mark.parametrize("token", [None, "guessed-token"])
async def test_a_push_without_the_demo_token_is_refused_in_the_dialects_form(
    database: Database, bus: MemoryBus, clock: ManualClock, dialect: str, token: str | None
) -> None:
    platform = demo_on(database)
    query = "" if token is None else f"?token={token}"
    async with gateway(platform.settings, bus, database, clock) as (client, service):
        answer = await client.post(
            f"/v1/callbacks/{dialect}{query}",
            content=orjson.dumps(REPORTS[dialect]),
            headers={"Content-Type": "application/json"},
        )

    assert answer.status_code == 400
    assert answer.json().items() >= REFUSALS[dialect].items()
    assert await published(bus) == []
    rejected = metric(
        service, "sendtier_receipts_pushes_total", supplier=dialect, outcome="rejected_signature"
    )
    assert rejected == 1


async def test_the_demo_simulators_receipts_are_accepted_with_their_token(
    database: Database, bus: MemoryBus, clock: ManualClock
) -> None:
    platform = demo_on(database)
    async with gateway(platform.settings, bus, database, clock) as (client, service):
        # The simulators push to where the gateway listens, with the demo's own tokens.
        document = copy.deepcopy(platform.document)
        document["receipts"]["public_url"] = str(client.base_url)
        sites = stand_in_simulators(platform_from(document, {}).settings, default_plan=AT_ONCE)
        chosen = {name: sites[name] for name in ("aliyun", "tencent")}
        assert all("?token=" in str(site.config.callback_url) for site in chosen.values())
        async with running_simulators(chosen) as simulators:
            for n, (name, simulator) in enumerate(simulators.items()):
                supplier = next(s for s in platform.settings.suppliers if s.name == name)
                supplier_message_id = await submit_otp(
                    supplier.model_copy(update={"base_url": simulator.base_url}), n
                )
                submit = submit_result(
                    n, supplier=name, message_class="otp", supplier_message_id=supplier_message_id
                )
                await publish_submits(bus, [submit])
            await until(lambda: len(service.index) >= 2 * len(simulators))
            for simulator in simulators.values():
                await simulator.flush()

    for name in ("aliyun", "tencent"):
        assert metric(service, "sendtier_receipts_pushes_total", supplier=name, outcome="ok") >= 1
        refused = metric(
            service, "sendtier_receipts_pushes_total", supplier=name, outcome="rejected_signature"
        )
        assert refused == 0
    assert sorted(r.supplier for r in await published(bus)) == ["aliyun", "tencent"]


async def submit_otp(supplier: SupplierSettings, n: int) -> str | None:
    """Send message `n` through the supplier's adapter; the supplier's id for it."""
    codes = ALIYUN_CODES if supplier.account.dialect == "aliyun" else TENCENT_CODES
    request = SubmitRequest(
        message_id=f"m-{n:05d}",
        phone="+8613800000001",  # the simulators' always-delivered number
        carrier="cucc",
        message_class="otp",
        sign_name="短信平台",
        template_id=codes["otp-code"],
        template_params={"code": "123456"},
        content="【短信平台】您的验证码是123456，5分钟内有效，请勿泄露。",
    )
    adapter = make_adapter(supplier, system_clock)
    try:
        outcome = await adapter.submit(request)
    finally:
        await adapter.aclose()
    assert outcome.accepted, outcome
    return outcome.supplier_message_id
