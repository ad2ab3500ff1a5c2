"""Every simulator's own endpoints, the background pusher, and outages that drop connections."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import pytest
from sendtier_sim_helpers import (
    ALIYUN,
    CMPP,
    aliyun_params,
    cmpp_auth,
    manual_clock,
    plan,
    running_receiver,
    send_sms,
)

from smsplatform.config.yamlsource import ConfigError
from testbench.simulators import (
    PlanRejected,
    RunningSimulator,
    SimulatorConfig,
    create_simulator_app,
    running_simulator,
)
from testbench.simulators.fleet import SimulatorEntry, default_fleet, load_fleet, serve_fleet


async def test_a_new_plan_is_validated_and_a_bad_one_names_its_field() -> None:
    clock = manual_clock()
    sim_config = SimulatorConfig(account=ALIYUN, plan=plan(), background_push=False)
    async with running_simulator(sim_config, clock) as sim, httpx.AsyncClient() as client:
        url = sim.base_url + "/_sim/plan"
        bad_rate = await client.post(url, json={"submit": {"error_rate": 1.5}})
        unknown_code = await client.post(
            url, json={"submit": {"error_rate": 0.1, "error_mix": {"Nope": 1}}}
        )
        typo = await client.post(url, json={"recipts": {}})
        yaml_plan = "submit:\n  error_rate: 1\n  error_mix: {isp.SYSTEM_ERROR: 1}\n"
        applied = await client.post(
            url, content=yaml_plan, headers={"Content-Type": "application/yaml"}
        )
        refused = await client.post(
            sim.base_url + "/", data=aliyun_params(clock, send_sms("13900000000"))
        )
        current = await client.get(url)
    assert bad_rate.status_code == 422
    assert bad_rate.json()["field"] == "submit.error_rate"
    assert unknown_code.status_code == 422
    assert unknown_code.json()["field"] == "submit.error_mix.Nope"
    assert typo.json()["field"] == "recipts" and typo.json()["detail"] == "unknown key"
    assert applied.status_code == 200
    assert refused.json()["Code"] == "isp.SYSTEM_ERROR"
    assert current.json()["submit"]["error_rate"] == 1.0
    with pytest.raises(PlanRejected):
        sim.set_plan({"per_recipient_limits": [{"window_s": 1, "limit": 1, "code": "X"}]})


async def test_state_metrics_and_health_show_counters_balance_and_backlog() -> None:
    clock = manual_clock()
    sim_config = SimulatorConfig(
        account=CMPP,
        plan=plan(balance={"initial_units": 10, "low_threshold": 9}),
        background_push=False,
    )
    async with running_simulator(sim_config, clock) as sim, httpx.AsyncClient() as client:
        form = {**cmpp_auth(clock), "mobile": "13912345678", "content": "【签名】你好"}
        await client.post(sim.base_url + "/cmpp/submit", data=form)
        state = (await client.get(sim.base_url + "/_sim/state")).json()
        metrics = (await client.get(sim.base_url + "/metrics")).text
        health = (await client.get(sim.base_url + "/healthz")).json()
    assert state["counters"]["accepted"] == 1 and state["counters"]["requests"] == 1
    assert state["balance"] == {"units": 9.0, "unit": "messages", "low": True}
    assert state["receipts"]["pending"] == 1 and state["receipts"]["due"] == 0
    assert 'smsctl_sim_accepted_total{dialect="cmpp"} 1.0' in metrics
    assert 'smsctl_sim_balance_units{dialect="cmpp",unit="messages"} 9.0' in metrics
    assert health == {"status": "ok", "dialect": "cmpp"}


async def test_the_background_pusher_delivers_receipts_once_they_fall_due() -> None:
    clock = manual_clock()
    async with running_receiver((200, b"OK")) as receiver:
        sim_config = SimulatorConfig(
            account=CMPP, callback_url=receiver.url, plan=plan(), push_interval_s=0.01
        )
        async with running_simulator(sim_config, clock) as sim, httpx.AsyncClient() as client:
            form = {**cmpp_auth(clock), "mobile": "13912345678", "content": "【签名】你好"}
            await client.post(sim.base_url + "/cmpp/submit", data=form)
            assert await receiver.wait_for(1, timeout_s=0.1) == []  # due in 5 s
            clock.advance(5)
            pushes = await receiver.wait_for(1)
    assert len(pushes) == 1 and pushes[0].form()["mobile"] == "13912345678"


async def test_connect_refused_drops_connections_and_timeout_outages_hang() -> None:
    clock = manual_clock()
    outages = [
        {"mode": "connect_refused", "start_in_s": 0, "end_in_s": 10},
        {"mode": "timeout", "start_in_s": 10, "end_in_s": 20},
    ]
    sim_config = SimulatorConfig(
        account=CMPP,
        plan=plan(outages=outages, submit={"timeout_hang_ms": 300}),
        background_push=False,
    )
    async with running_simulator(sim_config, clock) as sim, httpx.AsyncClient() as client:
        form = {**cmpp_auth(clock), "mobile": "13912345678", "content": "【签名】你好"}
        with pytest.raises(httpx.TransportError):
            await client.post(sim.base_url + "/cmpp/submit", data=form)
        clock.advance(10)
        with pytest.raises(httpx.ReadTimeout):
            await client.post(sim.base_url + "/cmpp/submit", data=form, timeout=0.1)
        clock.advance(10)
        form = {**cmpp_auth(clock), "mobile": "13912345678", "content": "【签名】你好"}
        recovered = await client.post(sim.base_url + "/cmpp/submit", data=form)
    assert recovered.json()["results"][0]["result"] == 0


async def test_a_timed_out_submit_is_still_sent_when_the_plan_says_so() -> None:
    clock = manual_clock()
    submit = {
        "timeout_rate": 1.0,
        "timeout_hang_ms": 200,
        "latency": {"kind": "fixed", "median_ms": 0},
    }
    sim_config = SimulatorConfig(account=CMPP, plan=plan(submit=submit), background_push=False)
    async with running_simulator(sim_config, clock) as sim, httpx.AsyncClient() as client:
        form = {**cmpp_auth(clock), "mobile": "13912345678", "content": "【签名】你好"}
        with pytest.raises(httpx.ReadTimeout):
            await client.post(sim.base_url + "/cmpp/submit", data=form, timeout=0.05)
        state = sim.state()
    assert state["counters"]["timeouts"] == 1 and state["counters"]["accepted"] == 1


async def test_the_app_works_in_process_where_connect_refused_becomes_503() -> None:
    clock = manual_clock()
    outages = [{"mode": "connect_refused", "start_in_s": 60}]
    app = create_simulator_app(
        SimulatorConfig(account=CMPP, plan=plan(outages=outages), background_push=False), clock
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        form = {**cmpp_auth(clock), "mobile": "13912345678", "content": "【签名】你好"}
        accepted = await client.post("/cmpp/submit", data=form)
        clock.advance(60)
        form = {**cmpp_auth(clock), "mobile": "13912345678", "content": "【签名】你好"}
        down = await client.post("/cmpp/submit", data=form)
    assert accepted.json()["results"][0]["result"] == 0
    assert down.status_code == 503
    assert app.state.engine.state()["counters"]["accepted"] == 1


FLEET = """\
simulators:
  - name: ali
    port: 0
    account: {dialect: aliyun, access_key_id: k, access_key_secret: s}
    callback_url: http://127.0.0.1:8083/v1/callbacks/ali
  - name: tc
    port: 0
    account: {dialect: tencent, secret_id: i, secret_key: k, sdk_app_id: "1400000000"}
    plan:
      receipts: {loss_rate: 3}
"""


def test_a_fleet_file_names_the_line_of_a_bad_simulator(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_fleet(path)
    (problem,) = raised.value.problems
    assert (problem.line, problem.key) == (10, "simulators.1.plan.receipts.loss_rate")


async def test_the_default_fleet_serves_one_simulator_per_dialect() -> None:
    entries = [
        SimulatorEntry(name=entry.name, port=0, config=entry.config) for entry in default_fleet()
    ]
    ready: list[str] = []

    def on_ready(running: list[tuple[SimulatorEntry, RunningSimulator]]) -> None:
        ready.extend(sim.base_url for _, sim in running)

    task = asyncio.create_task(serve_fleet(entries, on_ready=on_ready))
    try:
        while len(ready) < 4:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient() as client:
            dialects = [(await client.get(url + "/healthz")).json()["dialect"] for url in ready]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert dialects == ["aliyun", "tencent", "twilio", "cmpp"]
    urls = [entry.config.callback_url for entry in entries]
    assert urls == [
        "http://127.0.0.1:8083/v1/callbacks/aliyun-sim?token=sim-callback-token",
        "http://127.0.0.1:8083/v1/callbacks/tencent-sim?token=sim-callback-token",
        "http://127.0.0.1:8083/v1/callbacks/twilio-sim",
        "http://127.0.0.1:8083/v1/callbacks/cmpp-sim",
    ]
