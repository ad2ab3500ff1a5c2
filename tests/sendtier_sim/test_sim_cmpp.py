"""The CMPP-style simulator over real HTTP: signed form submits, result codes, signed pushes."""

from __future__ import annotations

from typing import Any

import httpx
from sendtier_sim_helpers import CMPP, cmpp_auth, manual_clock, plan, running_receiver

from smsplatform.clock import ManualClock
from suppliers.signing import cmpp_batch_push_signature, cmpp_push_signature_valid
from testbench.simulators import RunningSimulator, SimulatorConfig, running_simulator

CONTENT = "【测试签名】您的验证码是1234，5分钟内有效。"


def config(callback_url: str | None = None, **plan_overrides: Any) -> SimulatorConfig:
    return SimulatorConfig(
        account=CMPP, callback_url=callback_url, plan=plan(**plan_overrides), background_push=False
    )


async def submit(
    client: httpx.AsyncClient,
    sim: RunningSimulator,
    clock: ManualClock,
    mobile: str,
    *,
    auth: dict[str, str] | None = None,
    **fields: str,
) -> httpx.Response:
    form = {**(auth or cmpp_auth(clock)), "mobile": mobile, "content": CONTENT, **fields}
    return await client.post(sim.base_url + "/cmpp/submit", data=form)


async def test_signed_submit_answers_a_result_per_number() -> None:
    clock = manual_clock()
    async with running_simulator(config(), clock) as sim, httpx.AsyncClient() as client:
        response = await submit(client, sim, clock, "13912345678,+8613912345679,999")
    body = response.json()
    assert response.status_code == 200 and body["code"] == 0
    first, second, bad = body["results"]
    assert first["result"] == 0 and first["msgid"] and first["segments"] == 1
    assert second["result"] == 0 and second["mobile"] == "+8613912345679"
    assert bad == {"mobile": "999", "msgid": "", "segments": 0, "result": 14}


async def test_bad_sign_and_stale_ts_get_401_auth() -> None:
    clock = manual_clock()
    async with running_simulator(config(), clock) as sim, httpx.AsyncClient() as client:
        forged = await submit(client, sim, clock, "13912345678", auth=cmpp_auth(clock, secret="x"))
        stale_ts = int(clock.now().timestamp()) - 301
        stale = await submit(client, sim, clock, "13912345678", auth=cmpp_auth(clock, ts=stale_ts))
        missing = await client.post(sim.base_url + "/cmpp/submit", data=cmpp_auth(clock))
    assert (forged.status_code, forged.json()) == (401, {"code": "AUTH"})
    assert (stale.status_code, stale.json()) == (401, {"code": "AUTH"})
    assert missing.status_code == 400 and missing.json()["field"] == "mobile"


async def test_error_rate_half_fails_about_half_with_result_codes_from_the_mix() -> None:
    clock = manual_clock()
    submit_plan = {"error_rate": 0.5, "error_mix": {"9": 1, "13": 1}}
    async with (
        running_simulator(config(submit=submit_plan), clock) as sim,
        httpx.AsyncClient() as client,
    ):
        results = []
        for batch in range(2):
            mobiles = ",".join(f"137{batch:02d}{index:06d}" for index in range(100))
            response = await submit(client, sim, clock, mobiles)
            results += [row["result"] for row in response.json()["results"]]
    failures = [result for result in results if result != 0]
    assert 70 <= len(failures) <= 130 and set(failures) == {9, 13}


async def test_throttle_balance_signature_and_outage_answers() -> None:
    clock = manual_clock()
    outages = [{"mode": "auth_fail", "start_in_s": 60, "end_in_s": 120}]
    sim_config = config(
        throttle={"qps": 1, "burst": 2},
        balance={"initial_units": 1},
        approved={"signatures": ["测试签名"]},
        outages=outages,
    )
    async with running_simulator(sim_config, clock) as sim, httpx.AsyncClient() as client:
        paid = await submit(client, sim, clock, "13600000001")
        broke = await submit(client, sim, clock, "13600000002")
        throttled = await submit(client, sim, clock, "13600000003")
        clock.advance(5)
        unsigned = await submit(client, sim, clock, "13600000004", content="【别家】你好")
        balance = await client.get(sim.base_url + "/cmpp/balance", params=cmpp_auth(clock))
        clock.advance(60)
        auth_outage = await submit(client, sim, clock, "13600000005")
    assert paid.json()["results"][0]["result"] == 0
    assert broke.json()["results"][0]["result"] == 10
    assert (throttled.status_code, throttled.json()["code"]) == (429, 8)
    assert unsigned.json()["results"][0]["result"] == 12
    assert balance.json() == {"code": 0, "balance": 0.0, "unit": "messages"}
    assert auth_outage.status_code == 401


async def test_receipts_are_signed_form_pushes_and_repushed_until_the_receiver_says_ok() -> None:
    clock = manual_clock()
    delivery = {"default": {"DELIVERED": 0, "REJECTED": {"weight": 1, "codes": ["DB:0144"]}}}
    async with running_receiver((200, b"OK")) as receiver:
        receiver.replies.append((200, b"FAIL"))
        sim_config = config(receiver.url + "/cmpp/report", delivery=delivery)
        async with running_simulator(sim_config, clock) as sim, httpx.AsyncClient() as client:
            answer = await submit(client, sim, clock, "13512345678", client_msgid="ours-7")
            clock.advance(5)
            assert await sim.flush() == 0  # the body was not OK
            clock.advance(60)
            assert await sim.flush() == 1
    first, second = receiver.pushes
    fields = second.form()
    assert first.form() == fields
    assert fields["msgid"] == answer.json()["results"][0]["msgid"]
    assert fields["stat"] == "DB:0144" and fields["client_msgid"] == "ours-7"
    assert fields["mobile"] == "13512345678" and fields["dlvrd"] == "000"
    assert fields["submit_date"] == "2603020900" and fields["done_date"] == "2603020900"
    assert fields["report"].startswith(f"id:{fields['msgid']} sub:001 dlvrd:000 submit date:")
    assert cmpp_push_signature_valid("sim-cmpp-secret", fields, second.headers["x-sim-signature"])


async def test_batched_pushes_are_json_arrays_and_pull_consumes_the_rest() -> None:
    clock = manual_clock()
    receipts = {"batching": {"max_per_push": 5}, "delay": {"kind": "fixed", "median_ms": 0}}
    async with running_receiver((200, b"OK")) as receiver:
        sim_config = config(receiver.url + "/batch", receipts=receipts)
        async with running_simulator(sim_config, clock) as sim, httpx.AsyncClient() as client:
            await submit(client, sim, clock, "13800000001,13800000002,13800000003")
            await sim.flush()
        no_callback = config(receipts=receipts)
        async with running_simulator(no_callback, clock) as sim, httpx.AsyncClient() as client:
            await submit(client, sim, clock, "13700000001,13700000002")
            pulled = await client.get(
                sim.base_url + "/cmpp/reports", params={**cmpp_auth(clock), "max": "1"}
            )
            rest = await client.get(sim.base_url + "/cmpp/reports", params=cmpp_auth(clock))
    (push,) = receiver.pushes
    reports = push.json()
    assert {r["stat"] for r in reports} == {"DELIVRD", "MK:0001"}  # …0003: no receipt
    assert push.headers["x-sim-signature"] == cmpp_batch_push_signature(
        "sim-cmpp-secret", push.body
    )
    assert len(pulled.json()["reports"]) == 1 and len(rest.json()["reports"]) == 1
