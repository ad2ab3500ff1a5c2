"""Exports the windows' health on /metrics: live label sets, events folded past the label cap."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controlplane.engine.windows import WindowStore


class WindowStatsCollector(Collector):
    def __init__(self, store: WindowStore) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        names = ["source", "by", "filter"]
        label_sets = GaugeMetricFamily(
            "smsctl_window_label_sets", "Live label sets per window stream.", labels=names
        )
        folded = CounterMetricFamily(
            "smsctl_window_folded_events",
            "Events of label sets beyond the label cap, folded into `other`.",
            labels=names,
        )
        filter_errors = CounterMetricFamily(
            "smsctl_window_filter_errors",
            "Events a rule's filter could not be evaluated on (left out of the window).",
            labels=names,
        )
        for stats in self._store.stats():
            labels = [stats.source, ",".join(stats.by), stats.filter or ""]
            label_sets.add_metric(labels, stats.label_sets)
            folded.add_metric(labels, stats.folded_events)
            filter_errors.add_metric(labels, stats.filter_errors)
        yield label_sets
        yield folded
        yield filter_errors
