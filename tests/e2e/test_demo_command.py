"""`smsctl demo`: scenario (a) against a running system, printed as a timeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from steady_traffic import steady_traffic
from system_world import ADMIN_TOKEN, memory_backend, running_system

from controlplane.actions.cutover_settings import CutoverSettings
from controlplane.settings import load_settings
from smsctl.cli import main
from testbench.demo.scenario import DemoTargets, failback_timeout_s, run_scenario_a

REPOSITORY = Path(__file__).resolve().parents[2]


async def test_demo_prints_fault_cut_over_and_failback_and_puts_the_plan_back(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    async with running_system(memory_backend(tmp_path), tmp_path) as system:
        simulator = system.simulators["aliyun"]
        plan_before = simulator.engine.plan
        targets = DemoTargets(
            system.control_url,
            ADMIN_TOKEN,
            simulator.base_url,
            hold_s=0.5,
            timeout_s=60,
            failback_timeout_s=failback_timeout_s(system.control_plane.settings.cutover),
        )
        async with steady_traffic(system.api_url, system.tenant_token, 60.0):
            result = await run_scenario_a(targets, lines.append)
        plan_after = simulator.engine.plan

    kinds = [kind for _, kind, _ in result.timeline.events]
    assert kinds[0] == "routing"  # the table before the fault
    assert kinds.index("fault") < kinds.index("cutover") < kinds.index("fault_end")
    assert kinds[-1] == "restored"
    assert result.to_cutover_s is not None and result.to_cutover_s < 15
    assert result.to_restored_s is not None
    assert plan_after == plan_before
    # What the operator reads: the fault, the routing versions naming the supplier's states.
    assert any("fault on: aliyun delivers 60% to cmcc" in line for line in lines)
    assert any(
        "aliyun on cmcc: marketing ejected, notification ejected, otp ejected" in line
        for line in lines
    )
    assert any("probing 10%" in line for line in lines), "\n".join(lines)
    assert len(lines) == len(result.timeline.events)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--token", "t", "--delivered", "1.5"], "--delivered"),
        (["demo", "--token", ""], "--token"),
    ],
)
def test_demo_refuses_bad_options_naming_them(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().out


def test_failback_timeout_covers_the_cool_down_and_every_canary_step() -> None:
    # `make run`'s settings: a 120 s cool-down, then 1 % → 5 % → 25 % → 100 % of 30 s each.
    shipped = load_settings(REPOSITORY / "smsctl.yaml", {}).cutover
    assert shipped.failback.cooldown_s == 120 and len(shipped.failback.steps) == 4
    assert failback_timeout_s(shipped) == 120 + 4 * 2 * 30 + 60
    # Each step is allowed two of its spans, a span being the longer of window and dwell.
    slow = CutoverSettings.model_validate(
        {
            "failback": {"cooldown_s": 600, "steps": [0.1, 1.0], "window_s": 5},
            "safety": {"min_dwell_s": 50},
        }
    )
    assert failback_timeout_s(slow) == 600 + 2 * 2 * 50 + 60


def test_demo_waits_for_failback_as_long_as_the_configured_settings_need(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "smsctl.yaml"
    config.write_text("cutover:\n  failback: {cooldown_s: 300, steps: [0.5, 1.0], window_s: 20}\n")
    argv = ["--config", str(config), "demo", "--token", "t", "--url", "http://127.0.0.1:9"]
    assert main(argv) == 1  # nothing answers there
    assert "300 s for cut-over, 440 s for failback" in capsys.readouterr().out
