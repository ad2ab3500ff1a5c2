"""Evaluating stream rules: window aggregates → CEL condition and value → state-machine samples."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controlplane.engine.aggregates import Aggregates
from controlplane.engine.alerts import Sample
from controlplane.engine.rules.model import AlertRule, RecordingRule, StreamQuery
from controlplane.engine.rules.templates import RuleTemplate, TemplateContext
from controlplane.engine.specs import WindowSpec
from controlplane.engine.windows import WindowStore


@dataclass(frozen=True)
class StreamReading:
    """One label set's verdict in one evaluation, with what its templates may read."""

    sample: Sample
    aggregates: Aggregates


def window_spec(query: StreamQuery, source: str | None = None) -> WindowSpec:
    """The window a rule reads (or, with `source`, the joined source's same window)."""
    return WindowSpec(
        source=source or query.source,
        by=query.by,
        window_s=query.window_s,
        filter=query.filter.source if query.filter is not None and source is None else None,
    )


def register_windows(store: WindowStore, query: StreamQuery) -> None:
    store.register(window_spec(query))
    for joined in query.joined_sources:
        store.register(window_spec(query, joined))


def _activation(
    store: WindowStore, query: StreamQuery, now: datetime
) -> list[tuple[Aggregates, dict[str, Any]]]:
    """Each label set's aggregates, and the CEL activation holding them and the joined sources'."""
    own = store.aggregates(window_spec(query), now)
    joined = {
        source: store.aggregates(window_spec(query, source), now) for source in query.joined_sources
    }
    readings = []
    for labels, aggregates in own.items():
        activation: dict[str, Any] = dict(aggregates)
        for source, by_labels in joined.items():
            other = by_labels.get(labels)
            activation[source] = dict(other) if other is not None else {"total": 0}
        readings.append((aggregates, activation))
    return readings


def alert_readings(rule: AlertRule, store: WindowStore, now: datetime) -> list[StreamReading]:
    """The rule's samples for the state machine; raises CelEvaluationError on a bad activation."""
    assert rule.stream is not None and rule.when is not None
    readings = []
    for aggregates, activation in _activation(store, rule.stream, now):
        active = bool(rule.when.evaluate(activation))
        value = _number(rule.value.evaluate(activation)) if rule.value is not None else None
        series = aggregates.label_dict()
        labels = {**series, **render_labels(rule.labels, series, value), "alertname": rule.name}
        no_data = activation.get("total", 1) == 0
        readings.append(StreamReading(Sample(labels, value, active, no_data), aggregates))
    return readings


def recorded_values(
    rule: RecordingRule, store: WindowStore, now: datetime
) -> dict[tuple[tuple[str, str], ...], float]:
    """The recorded series of a stream recording rule: label set → value."""
    assert rule.stream is not None and rule.value is not None
    series: dict[tuple[tuple[str, str], ...], float] = {}
    for aggregates, activation in _activation(store, rule.stream, now):
        value = _number(rule.value.evaluate(activation))
        if value is None:
            continue
        labels = {**aggregates.label_dict(), **rule.labels}
        series[tuple(sorted(labels.items()))] = value
    return series


def render_labels(
    templates: Mapping[str, RuleTemplate], series: Mapping[str, str], value: float | None
) -> dict[str, str]:
    if not templates:
        return {}
    context = TemplateContext(labels=series, value=value)
    return {name: template.render(context) for name, template in templates.items()}


def render_annotations(
    rule: AlertRule,
    labels: Mapping[str, str],
    value: float | None,
    aggregates: Mapping[str, Any] | None,
    external_url: str,
) -> dict[str, str]:
    rendered = {}
    for name, template in rule.annotations.items():
        wanted = {
            key: float(aggregates[key])
            for key in template.aggregate_names
            if aggregates is not None and key in aggregates
        }
        context = TemplateContext(
            labels=labels, value=value, external_url=external_url, aggregates=wanted
        )
        rendered[name] = template.render(context)
    return rendered


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None
