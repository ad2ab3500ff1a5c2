"""Loads a stream test's checks, `alert_rule_test` and `recorded_test`, key by key.

An alert test is promtool's; a recorded test is promtool's `promql_expr_test` with the rule's
`record` name in place of a PromQL `expr`, since a stream recording rule's series are read from
the rule, not queried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from controlplane.engine.rules.fields import FieldReader
from controlplane.engine.rules.fields import Path as KeyPath
from controlplane.engine.ruletest.model import (
    AlertTestCase,
    ExpectedAlert,
    RecordedTestCase,
    Sample,
)
from controlplane.engine.ruletest.samples import SeriesError, parse_series

ALERT_TEST_KEYS: Final = frozenset({"eval_time", "alertname", "exp_alerts"})
EXP_ALERT_KEYS: Final = frozenset({"exp_labels", "exp_annotations"})
RECORDED_TEST_KEYS: Final = frozenset({"eval_time", "record", "exp_samples"})
EXP_SAMPLE_KEYS: Final = frozenset({"labels", "value"})
Case = TypeVar("Case", AlertTestCase, RecordedTestCase)


def alert_tests(reader: FieldReader, test: dict[str, Any], path: KeyPath) -> list[AlertTestCase]:
    """The test's `alert_rule_test` cases that load; the others are problems on `reader`."""
    return _cases(reader, test, path, "alert_rule_test", "alert tests", _alert_test)


def recorded_tests(
    reader: FieldReader, test: dict[str, Any], path: KeyPath
) -> list[RecordedTestCase]:
    """The test's `recorded_test` cases that load; the others are problems on `reader`."""
    return _cases(reader, test, path, "recorded_test", "recorded tests", _recorded_test)


def _cases(
    reader: FieldReader,
    test: dict[str, Any],
    path: KeyPath,
    key: str,
    what: str,
    load: Callable[[FieldReader, Any, KeyPath], Case | None],
) -> list[Case]:
    loaded = [
        load(reader, raw, (*path, key, index))
        for index, raw in enumerate(entries(reader, test, path, key, what))
    ]
    return [case for case in loaded if case is not None]


def entries(
    reader: FieldReader, mapping: dict[str, Any], path: KeyPath, key: str, what: str
) -> list[Any]:
    """The list at `key`, empty when it is absent or null (or not a list, with a problem)."""
    raw = mapping.get(key)
    return [] if raw is None else reader.sequence(raw, (*path, key), what) or []


def _alert_test(reader: FieldReader, raw: Any, path: KeyPath) -> AlertTestCase | None:
    case = reader.mapping(raw, path, ALERT_TEST_KEYS, "an alert test")
    if case is None:
        return None
    before = len(reader.problems)
    eval_ms = _eval_time(reader, case, path)
    alertname = reader.string(case, path, "alertname", required=True)
    expected: list[ExpectedAlert] = []
    for index, raw_alert in enumerate(entries(reader, case, path, "exp_alerts", "alerts")):
        alert_path = (*path, "exp_alerts", index)
        alert = reader.mapping(raw_alert or {}, alert_path, EXP_ALERT_KEYS, "an expected alert")
        if alert is not None:
            expected.append(
                ExpectedAlert(
                    reader.string_map(alert, alert_path, "exp_labels"),
                    reader.string_map(alert, alert_path, "exp_annotations"),
                )
            )
    if alertname is None or len(reader.problems) != before:
        return None
    return AlertTestCase(
        eval_ms, alertname, tuple(expected), line=reader.line((*path, "alertname"))
    )


def _recorded_test(reader: FieldReader, raw: Any, path: KeyPath) -> RecordedTestCase | None:
    case = reader.mapping(raw, path, RECORDED_TEST_KEYS, "a recorded test")
    if case is None:
        return None
    before = len(reader.problems)
    eval_ms = _eval_time(reader, case, path)
    record = reader.string(case, path, "record", required=True)
    index_by_labels: dict[tuple[tuple[str, str], ...], int] = {}
    samples: list[Sample] = []
    for index, raw_sample in enumerate(entries(reader, case, path, "exp_samples", "samples")):
        sample_path = (*path, "exp_samples", index)
        sample = _expected_sample(reader, raw_sample, sample_path, record)
        if sample is None:
            continue
        if sample.labels in index_by_labels:
            first = index_by_labels[sample.labels]
            reader.fail(sample_path, f"the same labels as sample {first}: one sample a series")
        index_by_labels.setdefault(sample.labels, index)
        samples.append(sample)
    if record is None or len(reader.problems) != before:
        return None
    return RecordedTestCase(
        eval_ms, record, tuple(sorted(samples)), line=reader.line((*path, "record"))
    )


def _expected_sample(
    reader: FieldReader, raw: Any, path: KeyPath, record: str | None
) -> Sample | None:
    """`{labels: 'name{label="value"}', value: 0.97}`; the name, if written, is `record`."""
    sample = reader.mapping(raw, path, EXP_SAMPLE_KEYS, "an expected sample")
    if sample is None:
        return None
    text = reader.string(sample, path, "labels", required=True)
    value = sample.get("value")
    if value is None:
        reader.fail(path, "`value` is required: a number")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        reader.fail((*path, "value"), f"expected a number, got {value!r}")
        return None
    if text is None:
        return None
    try:
        name, labels = parse_series(text)
    except SeriesError as exc:
        reader.fail((*path, "labels"), str(exc))
        return None
    if name is not None and record is not None and name != record:
        reader.fail((*path, "labels"), f"names {name}, not the test's record {record}")
        return None
    return Sample(tuple(sorted(labels.items())), float(value))


def _eval_time(reader: FieldReader, case: dict[str, Any], path: KeyPath) -> int:
    if "eval_time" not in case:
        reader.fail(path, "`eval_time` is required")
    return millis(reader, case, path, "eval_time", 0)


def millis(
    reader: FieldReader, mapping: dict[str, Any], path: KeyPath, key: str, default: int
) -> int:
    """The duration at `key` in whole milliseconds (as model.py keeps times), else `default`."""
    seconds = reader.duration(mapping, path, key)
    return default if seconds is None else to_ms(seconds)


def to_ms(seconds: float) -> int:
    return round(seconds * 1000)
