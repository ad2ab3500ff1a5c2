"""One rule's YAML mapping → an AlertRule or RecordingRule, every problem reported with its key.

Stream rules (`source: receipts|submits|supplier_logs|probes`) read a window through CEL;
PromQL rules (`source: prometheus`, or `expr` and no `source`, as in a Prometheus file) query
Prometheus. Keys that belong to the other kind are errors that say so, not silently ignored.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final, get_args

from controlplane.engine.aggregates import VALUES
from controlplane.engine.alerts import NoDataPolicy
from controlplane.engine.cel_expr import CelExpression
from controlplane.engine.event_filter import EventFilter
from controlplane.engine.labels import LabelKeys
from controlplane.engine.rules.cel_checks import (
    WindowVariableError,
    check_by,
    check_window_variables,
    joined_sources,
)
from controlplane.engine.rules.fields import FieldReader, Path
from controlplane.engine.rules.model import (
    ACTION_KINDS,
    LABEL_NAME,
    METRIC_NAME,
    PROMETHEUS,
    SOURCES,
    AlertRule,
    RecordingRule,
    RuleAction,
    RuleOrigin,
    StreamQuery,
)
from controlplane.engine.rules.promql_check import promql_problem
from controlplane.engine.rules.templates import RuleTemplate, TemplateError, compile_template
from controlplane.engine.sources import SOURCES as STREAMS
from smsplatform.contracts import DegradationLevel, MessageClass

PROMETHEUS_ALERT_KEYS: Final = frozenset(
    {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
)
STREAM_KEYS: Final = frozenset({"source", "filter", "by", "window", "value"})
ALERT_KEYS: Final = PROMETHEUS_ALERT_KEYS | STREAM_KEYS | {"when", "on_no_data", "actions"}
RECORD_KEYS: Final = frozenset({"record", "expr", "labels"}) | STREAM_KEYS
# Keys only a stream rule may carry: a PromQL rule naming one is told why it cannot.
_STREAM_ONLY: Final = ("filter", "by", "window", "when", "value", "on_no_data")
ACTION_PARAMS: Final[dict[str, tuple[frozenset[str], str]]] = {
    "cutover": (frozenset({"supplier", "carrier", "message_class"}), "supplier"),
    "degrade": (frozenset({"level", "sample_ratio"}), "level"),
}
_DEGRADATION_LEVELS: Final = get_args(DegradationLevel)
_MESSAGE_CLASSES: Final = get_args(MessageClass)
_NO_DATA: Final = tuple(policy.value for policy in NoDataPolicy)


def parse_rule(
    reader: FieldReader,
    raw: Any,
    path: Path,
    group: str,
    group_labels: dict[str, str],
) -> AlertRule | RecordingRule | None:
    """The rule at `path`, or None when it has problems (recorded in `reader`)."""
    if not isinstance(raw, dict):
        reader.fail(path, f"expected a rule (a mapping with `alert` or `record`), got {raw!r}")
        return None
    before = len(reader.problems)
    if "alert" in raw and "record" in raw:
        reader.fail(path, "a rule has either `alert` or `record`, not both")
        return None
    if "record" in raw:
        rule: AlertRule | RecordingRule | None = _recording_rule(
            reader, raw, path, group, group_labels
        )
    elif "alert" in raw:
        rule = _alert_rule(reader, raw, path, group, group_labels)
    else:
        reader.fail(path, "a rule needs `alert: <name>` or `record: <series name>`")
        return None
    return rule if len(reader.problems) == before else None


def _alert_rule(
    reader: FieldReader, raw: dict[str, Any], path: Path, group: str, group_labels: dict[str, str]
) -> AlertRule | None:
    reader.mapping(raw, path, ALERT_KEYS, "an alert rule")
    name = reader.string(raw, path, "alert", required=True)
    source = _source(reader, raw, path)
    origin = RuleOrigin(reader.document.file, reader.line(path), group)
    for_s = _duration_or_zero(reader, raw, path, "for")
    keep_s = _duration_or_zero(reader, raw, path, "keep_firing_for")
    labels = _templates(reader, raw, path, "labels", base=group_labels)
    annotations = _templates(reader, raw, path, "annotations", base={})
    actions = _actions(reader, raw, path)
    if name is None or source is None:
        return None
    base = AlertRule(
        name,
        origin,
        source,
        for_s=for_s,
        keep_firing_for_s=keep_s,
        labels=labels,
        annotations=annotations,
        actions=actions,
    )
    _check_template_aggregates(reader, path, source, labels=labels, annotations=annotations)
    if source == PROMETHEUS:
        expr = _promql(reader, raw, path)
        return replace(base, expr=expr) if expr else None
    stream = _stream(reader, raw, path, source)
    when = _cel(reader, raw, path, "when", required=True)
    written_value = _cel(reader, raw, path, "value")
    on_no_data = _on_no_data(reader, raw, path)
    if stream is None or when is None:
        return None
    joined = _window_variables(reader, path, stream, when=when, value=written_value)
    if joined is None:
        return None
    value = written_value or when.value_operand()
    if value is not None and value.variables - _offered(stream):
        # A comparison inside a macro (`error_share.exists(c, error_share[c] > 0.2)`).
        reader.fail(
            (*path, "when"),
            f"the value taken from `when` ({value.source}) is not a window aggregate; "
            "name the alert's value with `value:`",
        )
        return None
    stream = replace(stream, joined_sources=joined)
    return replace(base, stream=stream, when=when, value=value, on_no_data=on_no_data)


def _check_template_aggregates(
    reader: FieldReader, path: Path, source: str, **templates: dict[str, RuleTemplate]
) -> None:
    """`aggregates.x` in a template must be an aggregate of the rule's window."""
    offered = tuple(VALUES.get(source, ()))
    for key, compiled in templates.items():
        for name, template in compiled.items():
            unknown = sorted(template.aggregate_names - set(offered))
            if not unknown:
                continue
            if source == PROMETHEUS:
                message = "a PromQL rule has no window aggregates; use $value / value"
            else:
                message = (
                    f"{source} windows have no aggregate {', '.join(unknown)} "
                    f"(they offer: {', '.join(offered)})"
                )
            reader.fail((*path, key, name), message)


def _recording_rule(
    reader: FieldReader, raw: dict[str, Any], path: Path, group: str, group_labels: dict[str, str]
) -> RecordingRule | None:
    alert_only = raw.keys() & (ALERT_KEYS - RECORD_KEYS)
    for key in sorted(alert_only):
        reader.fail((*path, key), f"`{key}` applies to alert rules only, not to `record` rules")
    others = {key: value for key, value in raw.items() if key not in alert_only}
    reader.mapping(others, path, RECORD_KEYS, "a recording rule")
    name = reader.string(raw, path, "record", required=True)
    if name is not None and not METRIC_NAME.fullmatch(name):
        reader.fail(
            (*path, "record"), f"{name!r} is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"
        )
    source = _source(reader, raw, path)
    own_labels = reader.string_map(raw, path, "labels")
    _check_label_names(reader, (*path, "labels"), own_labels)
    labels = {**group_labels, **own_labels}
    origin = RuleOrigin(reader.document.file, reader.line(path), group)
    if name is None or source is None:
        return None
    if source == PROMETHEUS:
        expr = _promql(reader, raw, path)
        return RecordingRule(name, origin, source, expr=expr, labels=labels) if expr else None
    stream = _stream(reader, raw, path, source)
    value = _cel(reader, raw, path, "value", required=True)
    if stream is None or value is None:
        return None
    joined = _window_variables(reader, path, stream, value=value)
    if joined is None:
        return None
    stream = replace(stream, joined_sources=joined)
    return RecordingRule(name, origin, source, stream=stream, value=value, labels=labels)


def _source(reader: FieldReader, raw: dict[str, Any], path: Path) -> str | None:
    if "source" not in raw:
        if "expr" in raw:
            return PROMETHEUS  # a Prometheus rule file, loaded unchanged
        reader.fail(path, f"`source` is required ({' | '.join(SOURCES)}), or `expr` for PromQL")
        return None
    source = reader.string(raw, path, "source")
    if source is not None and source not in SOURCES:
        reader.fail((*path, "source"), f"unknown source {source!r} (known: {', '.join(SOURCES)})")
        return None
    return source


def _promql(reader: FieldReader, raw: dict[str, Any], path: Path) -> str | None:
    for key in _STREAM_ONLY:
        if key in raw:
            reader.fail(
                (*path, key),
                f"`{key}` is for stream rules; a PromQL rule's condition and value come from "
                "its `expr`",
            )
    expr = reader.string(raw, path, "expr", required=True)
    if expr is not None and (problem := promql_problem(expr)):
        reader.fail((*path, "expr"), problem)
        return None
    return expr


def _stream(
    reader: FieldReader, raw: dict[str, Any], path: Path, source: str
) -> StreamQuery | None:
    if "expr" in raw:
        reader.fail((*path, "expr"), f"`expr` is PromQL, for `source: {PROMETHEUS}` only")
    by = reader.string_list(raw, path, "by")
    by_ok = _check_by(reader, (*path, "by"), source, by)
    window = reader.duration(raw, path, "window")
    if "window" not in raw:
        reader.fail(path, f"`window` is required for a `source: {source}` rule (e.g. 5m)")
    elif window is not None and (window < 1 or window != int(window)):
        # Windows are sums of per-second buckets (controlplane/engine/buckets.py).
        reader.fail((*path, "window"), "must be whole seconds, at least 1s")
        window = None
    event_filter = _cel(reader, raw, path, "filter")
    if event_filter is not None:
        try:
            EventFilter(event_filter, STREAMS[source])
        except ValueError as exc:
            reader.fail((*path, "filter"), str(exc))
    if window is None or not by_ok:
        return None
    return StreamQuery(source, by, int(window), event_filter)


def _check_by(reader: FieldReader, path: Path, source: str, by: tuple[str, ...]) -> bool:
    try:
        LabelKeys(STREAMS[source], by)
        check_by(source, by)
    except ValueError as exc:
        reader.fail(path, str(exc))
        return False
    bad = [name for name in by if not LABEL_NAME.fullmatch(name)]
    if bad:
        reader.fail(path, f"not a valid label name: {', '.join(bad)}")
        return False
    return True


def _window_variables(
    reader: FieldReader, path: Path, stream: StreamQuery, **expressions: CelExpression | None
) -> tuple[str, ...] | None:
    """The sources the expressions join, or None when one reads what the window lacks."""
    joined: set[str] = set()
    ok = True
    for key, expression in expressions.items():
        if expression is None:
            continue
        try:
            check_window_variables(stream.source, stream.by, expression)
        except WindowVariableError as exc:
            reader.fail((*path, key), str(exc))
            ok = False
        joined |= joined_sources(stream.source, expression)
    return tuple(sorted(joined)) if ok else None


def _offered(stream: StreamQuery) -> frozenset[str]:
    return frozenset(VALUES[stream.source]) | frozenset(stream.by) | frozenset(STREAMS)


def _cel(
    reader: FieldReader, raw: dict[str, Any], path: Path, key: str, required: bool = False
) -> CelExpression | None:
    if required and key not in raw:
        reader.fail(path, f"`{key}` is required (a CEL expression)")
        return None
    text = reader.string(raw, path, key)
    if text is None:
        return None
    try:
        return CelExpression(text)
    except ValueError as exc:
        reader.fail((*path, key), str(exc))
        return None


def _on_no_data(reader: FieldReader, raw: dict[str, Any], path: Path) -> NoDataPolicy:
    text = raw.get("on_no_data", NoDataPolicy.OK.value)
    if text not in _NO_DATA:
        reader.fail((*path, "on_no_data"), f"expected one of {', '.join(_NO_DATA)}, got {text!r}")
        return NoDataPolicy.OK
    return NoDataPolicy(text)


def _duration_or_zero(reader: FieldReader, raw: dict[str, Any], path: Path, key: str) -> float:
    return reader.duration(raw, path, key) or 0.0


def _templates(
    reader: FieldReader, raw: dict[str, Any], path: Path, key: str, base: dict[str, str]
) -> dict[str, RuleTemplate]:
    own = reader.string_map(raw, path, key)
    _check_label_names(reader, (*path, key), own)
    texts = {**base, **own}
    compiled: dict[str, RuleTemplate] = {}
    for name, text in texts.items():
        try:
            compiled[name] = compile_template(text)
        except TemplateError as exc:
            reader.fail((*path, key, name), str(exc))
    return compiled


def _check_label_names(reader: FieldReader, path: Path, names: dict[str, str]) -> None:
    for name in names:
        if not LABEL_NAME.fullmatch(name) or name == "__name__":
            reader.fail(
                (*path, name), f"{name!r} is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)"
            )


def _actions(reader: FieldReader, raw: dict[str, Any], path: Path) -> tuple[RuleAction, ...]:
    items = raw.get("actions")
    if items is None:
        return ()
    entries = reader.sequence(items, (*path, "actions"), "actions ({cutover: {...}})")
    actions: list[RuleAction] = []
    for index, entry in enumerate(entries or []):
        where = (*path, "actions", index)
        if not isinstance(entry, dict) or len(entry) != 1:
            reader.fail(where, f"an action is a mapping with one key: {' or '.join(ACTION_KINDS)}")
            continue
        ((kind, params),) = entry.items()
        if kind not in ACTION_PARAMS:
            reader.fail((*where, kind), f"unknown action (known: {', '.join(ACTION_KINDS)})")
            continue
        action = _action(reader, (*where, kind), kind, params)
        if action is not None:
            actions.append(action)
    return tuple(actions)


def _action(reader: FieldReader, path: Path, kind: str, params: Any) -> RuleAction | None:
    allowed, required = ACTION_PARAMS[kind]
    mapping = reader.mapping(params, path, allowed, f"a {kind} action")
    if mapping is None:
        return None
    if required not in mapping:
        reader.fail(path, f"`{required}` is required for {kind}")
        return None
    compiled: dict[str, RuleTemplate | float] = {}
    for name, value in mapping.items():
        if name not in allowed:
            continue
        if name == "sample_ratio":
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
                reader.fail((*path, name), "expected a ratio in (0, 1]")
                continue
            compiled[name] = float(value)
        elif name == "level" and value not in _DEGRADATION_LEVELS:
            reader.fail((*path, name), f"expected one of {', '.join(_DEGRADATION_LEVELS)}")
        elif not isinstance(value, str) or not value.strip():
            reader.fail((*path, name), "expected text (a template such as {{ labels.supplier }})")
        elif name == "message_class" and "{" not in value and value not in _MESSAGE_CLASSES:
            reader.fail((*path, name), f"expected one of {', '.join(_MESSAGE_CLASSES)}")
        else:
            try:
                compiled[name] = compile_template(value)
            except TemplateError as exc:
                reader.fail((*path, name), str(exc))
    if len(compiled) != len(mapping.keys() & allowed):
        return None
    return RuleAction("cutover" if kind == "cutover" else "degrade", compiled, reader.line(path))
