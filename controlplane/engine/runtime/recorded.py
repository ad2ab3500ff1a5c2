"""Exports the series recording rules compute, so Prometheus (and PromQL rules) can read them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controlplane.engine.runtime.evaluator import RuleEvaluator


class RecordedSeriesCollector(Collector):
    """A prometheus-client collector reading the current evaluator's recorded series."""

    def __init__(self, evaluator: Callable[[], RuleEvaluator | None]) -> None:
        self._evaluator = evaluator

    def collect(self) -> Iterator[Metric]:
        evaluator = self._evaluator()
        if evaluator is None:
            return
        for name, series in evaluator.recorded.items():
            if not series:
                continue
            label_names = sorted({label for key in series for label, _ in key})
            family = GaugeMetricFamily(name, f"Recorded by rule {name}.", labels=label_names)
            for key, value in series.items():
                labels = dict(key)
                family.add_metric([labels.get(label, "") for label in label_names], value)
            yield family
