"""Faithful supplier simulators with fault plans, one per dialect (SUPPLIERS.md §1-4, §8)."""

from testbench.simulators.app import create_simulator_app
from testbench.simulators.config import SimulatorConfig
from testbench.simulators.engine import PlanRejected, SimulatorEngine
from testbench.simulators.plan import FaultPlan, load_plan, parse_plan, plan_from_yaml
from testbench.simulators.server import RunningSimulator, running_simulator

__all__ = [
    "FaultPlan",
    "PlanRejected",
    "RunningSimulator",
    "SimulatorConfig",
    "SimulatorEngine",
    "create_simulator_app",
    "load_plan",
    "parse_plan",
    "plan_from_yaml",
    "running_simulator",
]
