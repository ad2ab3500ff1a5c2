"""Fault plans: loading with located errors, distributions, windows, carriers, replayability."""

from __future__ import annotations

import statistics
from datetime import timedelta
from pathlib import Path

import pytest
from sendtier_sim_helpers import manual_clock

from smsplatform.config.yamlsource import ConfigError
from suppliers.carriers import carrier_of
from testbench.simulators import FaultPlan, SimulatorEngine, load_plan, plan_from_yaml
from testbench.simulators.aliyun import PROFILE
from testbench.simulators.plan import Distribution
from testbench.simulators.records import SubmitAttempt
from testbench.simulators.sampling import Sampler

PLAN_YAML = """\
seed: 7
submit:
  latency: {kind: uniform, median_ms: 100, p99_ms: 140}
  error_rate: 0.1
  error_mix: {isp.SYSTEM_ERROR: 3, Throttling.User: 1}
throttle: {qps: 50, burst: 100}
balance: {initial_units: 1000, cost_per_segment: 1, low_threshold: 100}
outages:
  - {mode: http_503, start: "2026-03-02T02:00:00Z", end: "2026-03-02T02:10:00Z"}
delivery:
  cmcc: {DELIVERED: 90, FAILED: {weight: 10, codes: ["MK:0005"]}}
receipts:
  delay: {kind: lognormal, median_ms: 3000, p99_ms: 60000}
  batching: {max_per_push: 100, flush_interval_ms: 1000}
"""


def test_a_yaml_plan_loads_every_knob(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN_YAML, encoding="utf-8")
    plan = load_plan(path)
    assert plan.seed == 7 and plan.submit.error_mix == {"isp.SYSTEM_ERROR": 3, "Throttling.User": 1}
    assert plan.throttle and plan.throttle.capacity == 100
    assert plan.delivery.for_carrier("cmcc").FAILED.codes == ["MK:0005"]
    assert plan.delivery.for_carrier("ctcc") == plan.delivery.default
    assert plan.receipts.batching.max_per_push == 100


def test_a_bad_plan_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("submit:\n  error_rate: 0.1\nreceipts:\n  loss_rate: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_plan(path)
    (problem,) = raised.value.problems
    assert (problem.line, problem.key) == (4, "receipts.loss_rate")
    with pytest.raises(ConfigError, match="p99_ms must not be below median_ms"):
        plan_from_yaml("submit: {latency: {kind: lognormal, median_ms: 50, p99_ms: 10}}")
    with pytest.raises(ConfigError, match="start/end or start_in_s/end_in_s"):
        plan_from_yaml("outages: [{mode: timeout, start: '2026-01-01T00:00:00Z', start_in_s: 5}]")


def test_lognormal_and_uniform_delays_have_the_planned_median_and_p99() -> None:
    sampler = Sampler(1)
    lognormal = Distribution(kind="lognormal", median_ms=80, p99_ms=400)
    draws = sorted(sampler.delay_s(lognormal) * 1000 for _ in range(20_000))
    assert statistics.median(draws) == pytest.approx(80, rel=0.05)
    assert draws[int(len(draws) * 0.99)] == pytest.approx(400, rel=0.1)
    uniform = Distribution(kind="uniform", median_ms=100, p99_ms=149)
    draws = sorted(sampler.delay_s(uniform) * 1000 for _ in range(20_000))
    assert statistics.median(draws) == pytest.approx(100, rel=0.03)
    assert min(draws) >= 50 and max(draws) <= 150
    assert Sampler(1).delay_s(Distribution(kind="fixed", median_ms=250)) == 0.25


def test_relative_outages_count_from_when_the_plan_was_applied() -> None:
    clock = manual_clock()
    engine = SimulatorEngine(PROFILE, clock)
    clock.advance(100)
    engine.set_plan(
        FaultPlan.model_validate(
            {"outages": [{"mode": "suspended", "start_in_s": 10, "end_in_s": 20}]}
        )
    )
    observed = []
    for _ in range(3):
        observed.append(engine.outage())
        clock.advance(10)
    assert observed == [None, "suspended", None]


def test_the_same_seed_replays_the_same_answers_and_fates() -> None:
    def run() -> list[tuple[str | None, str | None, float]]:
        clock = manual_clock()
        plan = FaultPlan.model_validate(
            {"submit": {"error_rate": 0.3}, "per_recipient_limits": [], "seed": 42}
        )
        engine = SimulatorEngine(PROFILE, clock, plan=plan, seed=1)
        outcomes = []
        for index in range(50):
            attempt = SubmitAttempt(
                phones=(f"+86139{index:08d}",),
                sign_name="s",
                template_code="t",
                message_class="otp",
                segments=1,
                content="x",
            )
            reply = engine.submit(attempt)
            submission = reply.recipients[0].submission if reply.recipients else None
            delay = (
                (submission.final_at - submission.submitted_at) / timedelta(seconds=1)
                if submission and submission.final_at
                else -1.0
            )
            outcomes.append(
                (reply.refusal and reply.refusal.code, submission and submission.raw_code, delay)
            )
        return outcomes

    assert run() == run()


def test_balance_and_bucket_survive_a_plan_swap_unless_they_change() -> None:
    clock = manual_clock()
    engine = SimulatorEngine(
        PROFILE, clock, plan=FaultPlan.model_validate({"balance": {"initial_units": 5}})
    )
    attempt = SubmitAttempt(("+8613900000000",), "s", "t", "notification", 2, "x")
    engine.submit(attempt)
    engine.set_plan(
        FaultPlan.model_validate({"balance": {"initial_units": 5}, "submit": {"error_rate": 0}})
    )
    assert engine.balance().units == 3
    engine.set_plan(FaultPlan.model_validate({"balance": {"initial_units": 50}}))
    assert engine.balance().units == 50


def test_carriers_follow_phonenumbers_names_and_configured_prefixes() -> None:
    assert carrier_of("+8613800000001") == "cmcc"
    assert carrier_of("+8613000000000") == "cucc"
    assert carrier_of("+8618900000000") == "ctcc"
    assert carrier_of("+8619200000000") == "cbn"
    assert carrier_of("+8616200000000") == "unknown"  # MVNO range: no name in the data
    assert carrier_of("+14155552671") == "unknown"
    assert carrier_of("+8616200000000", {"86162": "ctcc"}) == "ctcc"
