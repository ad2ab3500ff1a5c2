"""Operators' route commands over the API and `smsctl route`: pin, unpin, drain, restore."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from controlplane.service import ControlPlane
from controlplane.web.app import create_app
from smsctl.cli import main
from smsplatform.clock import ManualClock
from smsplatform.http.serving import Served, ServerGroup
from tests.actions_cutover.service_world import (
    INGEST,
    OPERATOR,
    RecordingSink,
    bearer,
    settings,
    state_of,
)
from tests.actions_cutover.world import T0, receipt


@pytest.fixture
async def served(sqlite_url: str) -> AsyncIterator[tuple[str, ControlPlane]]:
    service = ControlPlane(settings(sqlite_url), {}, clock=ManualClock(T0), sink=RecordingSink())
    servers = ServerGroup([Served("control-plane", create_app(service))])
    urls = await servers.start()
    try:
        yield urls["control-plane"], service
    finally:
        await servers.stop()


async def post(url: str, verb: str, token: str = OPERATOR, **body: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, headers=bearer(token)) as client:
        return await client.post(f"/v1/routing/{verb}", json=body)


async def test_a_pinned_route_sends_everything_to_one_supplier_and_automation_keeps_off(
    served: tuple[str, ControlPlane],
) -> None:
    url, service = served
    answer = await post(
        url,
        "pin",
        supplier="cmpp",
        carrier="cmcc",
        message_class="otp",
        reason="aliyun flaky on cmcc tonight",
    )
    assert answer.status_code == 200, answer.text
    table = answer.json()
    assert state_of(table, "cmpp", "cmcc", "otp") == "pinned"
    assert (table["changed_by"], table["reason"]) == (
        "operator:oncall-ann",
        "aliyun flaky on cmcc tonight",
    )
    # cmpp fails hard on cmcc: automation cuts it over on the other class, not on the pinned one.
    await service.cutover.observe_receipts([receipt("cmpp", False, T0) for _ in range(60)])
    table = (await post(url, "unpin", supplier="cmpp", carrier="cmcc", message_class="otp")).json()
    assert state_of(table, "cmpp", "cmcc", "marketing") == "ejected"
    assert state_of(table, "cmpp", "cmcc", "otp") == "active"


async def test_drain_and_restore_move_a_supplier_out_and_back_on_every_route(
    served: tuple[str, ControlPlane],
) -> None:
    url, _ = served
    drained = (await post(url, "drain", supplier="twilio")).json()
    assert {
        state_of(drained, "twilio", c, m) for c in ("cmcc", "cucc") for m in ("otp", "marketing")
    } == {"draining"}
    restored = (await post(url, "restore", supplier="twilio", carrier="cucc")).json()
    assert state_of(restored, "twilio", "cucc", "otp") == "active"
    assert state_of(restored, "twilio", "cmcc", "otp") == "draining"
    assert restored["version"] == 3


@pytest.mark.parametrize(
    ("verb", "body", "status", "field", "words"),
    [
        ("pin", {"supplier": "cmpp", "carrier": "cmcc"}, 422, "message_class", "needs a carrier"),
        (
            "pin",
            {"supplier": "cmpp", "carrier": "cmcc", "message_class": "sms"},
            422,
            "message_class",
            "",
        ),
        ("drain", {"supplier": "nobody"}, 404, "supplier", "nobody is on no route"),
        ("explode", {"supplier": "cmpp"}, 422, "verb", ""),
        (
            "unpin",
            {"supplier": "cmpp", "carrier": "cmcc", "message_class": "otp"},
            409,
            "supplier",
            "is not pinned",
        ),
        (
            "restore",
            {"supplier": "cmpp", "carrier": "ctcc", "message_class": "otp"},
            404,
            "carrier",
            "no route for carrier ctcc",
        ),
    ],
)
async def test_a_command_that_cannot_apply_is_a_4xx_naming_the_field(
    served: tuple[str, ControlPlane],
    verb: str,
    body: dict[str, str],
    status: int,
    field: str,
    words: str,
) -> None:
    url, _ = served
    answer = await post(url, verb, **body)
    assert answer.status_code == status, answer.text
    assert answer.json()["field"] == field
    assert words in answer.json().get("error", "") + answer.json().get("detail", "")


async def test_draining_the_last_supplier_of_a_route_is_refused(
    served: tuple[str, ControlPlane],
) -> None:
    url, _ = served
    for supplier in ("aliyun", "tencent", "twilio"):
        assert (await post(url, "drain", supplier=supplier, carrier="cmcc")).status_code == 200
    refused = await post(url, "drain", supplier="cmpp", carrier="cmcc")
    assert refused.status_code == 409
    assert "would leave carrier cmcc class otp with no supplier" in refused.json()["error"]


async def test_route_commands_need_the_operator_scope(served: tuple[str, ControlPlane]) -> None:
    url, _ = served
    assert (await post(url, "drain", token=INGEST, supplier="cmpp")).status_code == 403
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/v1/routing")).status_code == 401


async def test_smsctl_route_commands_show_and_change_the_table(
    served: tuple[str, ControlPlane], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = served
    api = ["--url", url, "--token", OPERATOR]
    code = await asyncio.to_thread(
        main, ["route", "drain", "aliyun", "--carrier", "cucc", "--reason", "maintenance", *api]
    )
    assert code == 0
    assert await asyncio.to_thread(main, ["route", "show", *api]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert "version 2" in shown[-6] and "by operator:oncall-ann" in shown[-6]
    assert any(line.startswith("cucc") and "aliyun:draining:40" in line for line in shown)
    assert await asyncio.to_thread(main, ["route", "versions", *api]) == 0
    assert "maintenance" in capsys.readouterr().out
    code = await asyncio.to_thread(
        main, ["route", "unpin", "aliyun", "--carrier", "cucc", "--class", "otp", *api]
    )
    assert code == 1
    assert (
        "HTTP 409: aliyun is not pinned on this route (it is draining)" in capsys.readouterr().err
    )
