"""The simulator's /metrics: its counters, balance and backlog, read from the engine on scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from testbench.simulators.engine import SimulatorEngine

_COUNTERS = (
    ("requests", "Submit calls received."),
    ("accepted", "Messages accepted (one per recipient)."),
    ("timeouts", "Requests the plan made hang past the client's timeout."),
    ("receipts_scheduled", "Receipt reports planned (duplicates included)."),
    ("receipts_lost", "Receipt reports the plan dropped."),
    ("receipts_duplicated", "Receipt reports the plan sent twice."),
    ("receipts_pushed", "Receipt reports the receiver took."),
    ("push_failures", "Receipt pushes the receiver refused or did not answer."),
    ("receipts_dropped", "Receipt reports given up after the re-push schedule."),
    ("receipts_pulled", "Receipt reports taken through the pull API."),
)


class SimulatorCollector(Collector):
    """Reads the engine at scrape time, so the numbers are never double-kept."""

    def __init__(self, engine: SimulatorEngine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        engine = self._engine
        dialect = engine.profile.name
        for name, help_text in _COUNTERS:
            family = CounterMetricFamily(f"smsctl_sim_{name}", help_text, labels=["dialect"])
            family.add_metric([dialect], float(getattr(engine.counters, name)))
            yield family
        refused = CounterMetricFamily(
            "smsctl_sim_refused",
            "Submits refused, by the dialect's code.",
            labels=["dialect", "code"],
        )
        for code, count in sorted(engine.counters.refused.items()):
            refused.add_metric([dialect, code], float(count))
        yield refused
        pending = GaugeMetricFamily(
            "smsctl_sim_receipts_pending", "Receipt reports not yet delivered.", labels=["dialect"]
        )
        pending.add_metric([dialect], float(engine.receipts.pending()))
        yield pending
        balance = engine.balance()
        if balance.units is not None:
            gauge = GaugeMetricFamily(
                "smsctl_sim_balance_units",
                "Balance left, in the dialect's unit.",
                labels=["dialect", "unit"],
            )
            gauge.add_metric([dialect, balance.unit], balance.units)
            yield gauge


def simulator_registry(engine: SimulatorEngine) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(SimulatorCollector(engine))
    return registry
