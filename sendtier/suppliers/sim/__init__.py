"""Faithful supplier simulators with fault plans, one per dialect (SUPPLIERS.md §1-4, §8)."""

from sendtier.suppliers.sim.app import create_simulator_app
from sendtier.suppliers.sim.config import SimulatorConfig
from sendtier.suppliers.sim.engine import PlanRejected, SimulatorEngine
from sendtier.suppliers.sim.plan import FaultPlan, load_plan, parse_plan, plan_from_yaml
from sendtier.suppliers.sim.server import RunningSimulator, running_simulator

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
