"""Evaluating stream rules: one compiled program per window, samples for the state machines.

All `when` conditions of a group's rules that read the same window run as one `WindowProgram`
(the window's values are read once per label set, and a label set where nothing holds costs one
CEL call). Values are then computed only for the label sets that have an alert.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controlplane.engine.alerts import Alert, AlertState, NoDataPolicy, Sample
from controlplane.engine.cel_expr import CelEvaluationError, CelExpression
from controlplane.engine.labels import LabelSet
from controlplane.engine.programs import WindowProgram
from controlplane.engine.rules.model import AlertRule, RecordingRule, StreamQuery
from controlplane.engine.rules.templates import RuleTemplate, TemplateContext
from controlplane.engine.specs import WindowSpec
from controlplane.engine.windows import WindowStore

NO_DATA = CelExpression("total == 0")
_LIVE = (AlertState.PENDING, AlertState.FIRING)


def window_spec(query: StreamQuery) -> WindowSpec:
    filter_text = query.filter.source if query.filter is not None else None
    return WindowSpec(query.source, query.by, query.window_s, filter_text)


def _compile(
    store: WindowStore, query: StreamQuery, expressions: list[CelExpression]
) -> WindowProgram:
    spec = window_spec(query)
    store.register(spec)
    program = store.compile(spec, expressions, query.joined_sources)
    for joined in program.joined:
        store.register(joined)
    return program


@dataclass(frozen=True)
class ConditionProgram:
    """The `when` of every alert rule of one group that reads one window."""

    program: WindowProgram
    positions: Mapping[str, int]  # rule name → its expression's index


def compile_conditions(
    store: WindowStore, rules: Iterable[AlertRule]
) -> dict[str, ConditionProgram]:
    """Rule name → the program holding its condition (shared with the rules on its window)."""
    by_window: dict[tuple[StreamQuery, ...] | tuple[Any, ...], list[AlertRule]] = {}
    for rule in rules:
        assert rule.stream is not None and rule.when is not None
        key = (window_spec(rule.stream), rule.stream.joined_sources)
        by_window.setdefault(key, []).append(rule)
    programs: dict[str, ConditionProgram] = {}
    for grouped in by_window.values():
        assert grouped[0].stream is not None
        expressions = [rule.when for rule in grouped if rule.when is not None]
        program = ConditionProgram(
            _compile(store, grouped[0].stream, expressions),
            {rule.name: index for index, rule in enumerate(grouped)},
        )
        programs.update({rule.name: program for rule in grouped})
    return programs


@dataclass(frozen=True)
class RuleReaders:
    """What one stream alert rule needs beyond its condition: its value and no-data check."""

    rule: AlertRule
    value: WindowProgram | None
    no_data: WindowProgram | None


def compile_readers(store: WindowStore, rule: AlertRule) -> RuleReaders:
    assert rule.stream is not None
    value = _compile(store, rule.stream, [rule.value]) if rule.value is not None else None
    wants_no_data = rule.on_no_data is not NoDataPolicy.OK
    no_data = _compile(store, rule.stream, [NO_DATA]) if wants_no_data else None
    return RuleReaders(rule, value, no_data)


def alert_samples(
    readers: RuleReaders,
    active: Collection[LabelSet],
    held: Iterable[Alert],
    store: WindowStore,
    now: datetime,
) -> list[Sample]:
    """Samples for the label sets where the condition holds, alerts exist, or data is missing."""
    rule = readers.rule
    assert rule.stream is not None
    by = rule.stream.by
    wanted = set(active) | {_label_set(alert.labels, by) for alert in held}
    silent: set[LabelSet] = set()
    if readers.no_data is not None:
        in_window = store.evaluate(readers.no_data, now)
        silent = {labels for labels, [empty] in in_window.items() if _checked(empty) is True}
        # A live alert whose label set the window no longer holds (the windows restarted empty,
        # or it was idle past the store's TTL) has no data either. For a no-data rule that
        # silence is the very thing it alerts on, so it is judged by `on_no_data`, not resolved.
        live = {_label_set(alert.labels, by) for alert in held if alert.state in _LIVE}
        silent |= live - in_window.keys()
        wanted |= silent
    values: dict[LabelSet, Any] = {}
    if readers.value is not None and wanted:
        values = {
            labels: _number(_checked(value))
            for labels, [value] in store.evaluate(readers.value, now, wanted).items()
        }
    samples = []
    for labels in wanted:
        series = _series(by, labels)
        value = values.get(labels)
        alert_labels = {**series, **render_labels(rule.labels, series, value)}
        alert_labels["alertname"] = rule.name
        samples.append(Sample(alert_labels, value, labels in active, labels in silent))
    return samples


def active_label_sets(
    program: ConditionProgram, store: WindowStore, now: datetime
) -> dict[str, set[LabelSet]]:
    """Rule name → the label sets where its condition holds now."""
    positions = [(index, set[LabelSet]()) for index in program.positions.values()]
    for labels, results in store.evaluate(program.program, now).items():
        # Every (label set, rule) pair of the window passes here: no call per pair.
        for index, holding in positions:
            result = results[index]
            if result is True:
                holding.add(labels)
            elif isinstance(result, CelEvaluationError):
                raise result
    return {name: holding for name, (_, holding) in zip(program.positions, positions, strict=True)}


def recorded_values(
    rule: RecordingRule, program: WindowProgram, store: WindowStore, now: datetime
) -> dict[tuple[tuple[str, str], ...], float]:
    """A stream recording rule's series: label set → value."""
    assert rule.stream is not None
    series: dict[tuple[tuple[str, str], ...], float] = {}
    for labels, [result] in store.evaluate(program, now).items():
        value = _number(_checked(result))
        if value is None:
            continue
        names = _series(rule.stream.by, labels)
        series[tuple(sorted({**names, **rule.labels}.items()))] = value
    return series


def compile_recording(store: WindowStore, rule: RecordingRule) -> WindowProgram:
    assert rule.stream is not None and rule.value is not None
    return _compile(store, rule.stream, [rule.value])


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
            # Maps (error_share, by_code) pass through; numbers render as Prometheus floats.
            key: _number(aggregates[key])
            if not isinstance(aggregates[key], Mapping)
            else aggregates[key]
            for key in template.aggregate_names
            if aggregates is not None and key in aggregates
        }
        context = TemplateContext(
            labels=labels, value=value, external_url=external_url, aggregates=wanted
        )
        rendered[name] = template.render(context)
    return rendered


def _series(by: tuple[str, ...], labels: LabelSet) -> dict[str, str]:
    """A window label set as alert labels: absent values as "" (Aggregates.label_dict does too)."""
    return {name: "" if part is None else str(part) for name, part in zip(by, labels, strict=True)}


def _label_set(labels: Mapping[str, str], by: tuple[str, ...]) -> LabelSet:
    # Alert labels hold "" where the event had no value (see Aggregates.label_dict).
    return tuple(labels.get(name) or None for name in by)


def _checked(result: Any) -> Any:
    if isinstance(result, CelEvaluationError):
        raise result
    return result


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None
