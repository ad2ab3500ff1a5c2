"""`smsctl demo`: scenario (a) against a running system, printed as a timeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from steady_traffic import steady_traffic
from system_world import ADMIN_TOKEN, memory_backend, running_system

from controlplane.cli import main
from controlplane.demo import DemoTargets, run_scenario_a


async def test_demo_prints_fault_cut_over_and_failback_and_puts_the_plan_back(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    async with running_system(memory_backend(tmp_path), tmp_path) as system:
        simulator = system.simulators["aliyun"]
        plan_before = simulator.engine.plan
        targets = DemoTargets(
            system.control_url, ADMIN_TOKEN, simulator.base_url, hold_s=0.5, timeout_s=60
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
