"""Loads a rule test file into a RuleTestFile; every problem is reported with file:line and key.

The format is promtool's (`rule_files` relative to the test file, `evaluation_interval` 1m by
default, `group_eval_order`, `tests`), with one more kind of test: `input_events` in place of
`input_series`. Only stream tests are checked here, key by key; promtool's own tests are left
whole to promtool, which judges them as it always does.

    tests:
      - name: delivery drops                  # optional, shown on failure
        input_events:                         # source → event generators
          receipts:                           # receipts, submits, supplier_logs, probes
            - at: 0s..10m                     # from 0s up to (not including) 10m; `at: 30s`: once
              every: 100ms                    # tick step, 1s by default
              count: 2                        # events per tick, 1 by default
              status: {DELIVERED: 0.8, FAILED: 0.2}   # weighted values, dealt in proportion
              latency: 3s                     # submit to report (receipts), into latency_ms
              supplier: supplier-b            # any other field of the event; see events.py
        alert_rule_test:                      # as promtool: the FIRING alerts at eval_time
          - eval_time: 5m
            alertname: SupplierDeliveryRateLow
            exp_alerts:
              - exp_labels: {supplier: supplier-b, carrier: cmcc, severity: critical}
                exp_annotations: {summary: "..."}   # every annotation, exactly
        recorded_test:                        # as promql_expr_test: a stream recording rule's
          - eval_time: 5m                     # series at eval_time, each of them
            record: smsctl:receipts_delivery_rate:5m
            exp_samples:
              - labels: 'smsctl:receipts_delivery_rate:5m{supplier="supplier-b", carrier="cmcc"}'
                value: 0.8

`exp_labels` are the alert's labels but `alertname`; labels and annotations must match exactly,
and an alert still pending (waiting out `for:`) is not listed, as in promtool. `labels` of a
sample may leave the name out (`'{supplier="supplier-b"}'`); values compare as samples.py says.
"""

from __future__ import annotations

import glob
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from controlplane.engine.rules.durations import DurationError, parse_duration
from controlplane.engine.rules.fields import FieldReader
from controlplane.engine.rules.fields import Path as KeyPath
from controlplane.engine.rules.model import STREAM_SOURCES
from controlplane.engine.ruletest.cases import (
    alert_tests,
    entries,
    millis,
    recorded_tests,
    to_ms,
)
from controlplane.engine.ruletest.events import EVENT_SHAPES, LATENCY, EventShape
from controlplane.engine.ruletest.model import (
    DEFAULT_EVALUATION_INTERVAL_MS,
    Choices,
    EventGenerator,
    RuleTestFile,
    StreamTest,
)
from controlplane.engine.ruletest.timeline import EPOCH
from smsplatform.config.yamlsource import ConfigError, YamlDocument, load_yaml

INPUT_EVENTS: Final = "input_events"
FILE_KEYS: Final = frozenset({"rule_files", "evaluation_interval", "group_eval_order", "tests"})
STREAM_TEST_KEYS: Final = frozenset({"name", INPUT_EVENTS, "alert_rule_test", "recorded_test"})
# Keys of promtool's tests that mean nothing without input_series.
_PROMTOOL_TEST_KEYS: Final = frozenset(
    {"input_series", "interval", "promql_expr_test", "external_labels", "external_url"}
)
TIMING_KEYS: Final = frozenset({"at", "every", "count"})
_DEFAULT_EVERY_MS: Final = 1000
_FIELD_HINTS: Final = {
    "submitted_at": "event times come from the timeline: `at:` is when the event arrives; "
    "set `latency:` for the time from submit to report",
    "reported_at": "event times come from the timeline: `at:` is when the receipt arrives",
    "received_at": "event times come from the timeline: `at:` is when the event arrives",
    "latency_ms": "write the latency as a duration: `latency: 250ms`",
}


def load_test_file(path: Path) -> RuleTestFile:
    """The test file at `path`; ConfigError listing every problem with its line."""
    return load_test_document(load_yaml(path), path)


def has_stream_tests(document: YamlDocument) -> bool:
    """Whether any test of the file has `input_events` (else the file is promtool's alone)."""
    tests = document.data.get("tests") if isinstance(document.data, dict) else None
    return isinstance(tests, list) and any(
        isinstance(test, dict) and INPUT_EVENTS in test for test in tests
    )


def load_test_document(document: YamlDocument, path: Path) -> RuleTestFile:
    reader = FieldReader(document)
    top = reader.mapping(document.data, (), FILE_KEYS, "a rule test file")
    if top is None:
        raise ConfigError(reader.problems)
    rule_files = _rule_files(reader, top, path)
    interval_ms = millis(reader, top, (), "evaluation_interval", DEFAULT_EVALUATION_INTERVAL_MS)
    if interval_ms <= 0:
        reader.fail(("evaluation_interval",), "must be longer than 0s")
    order = reader.string_list(top, (), "group_eval_order")
    for index, name in enumerate(order):
        if name in order[:index]:
            reader.fail(("group_eval_order", index), f"group {name!r} is named twice")
    stream_tests: list[StreamTest] = []
    promtool_tests: list[int] = []
    for index, raw in enumerate(entries(reader, top, (), "tests", "tests")):
        if isinstance(raw, dict) and INPUT_EVENTS in raw:
            test = _stream_test(reader, raw, ("tests", index))
            if test is not None:
                stream_tests.append(test)
        else:
            promtool_tests.append(index)
    if reader.problems:
        raise ConfigError(sorted(reader.problems, key=lambda p: p.line or 0))
    return RuleTestFile(
        path=path,
        rule_files=rule_files,
        evaluation_interval_ms=interval_ms,
        group_eval_order=order,
        stream_tests=tuple(stream_tests),
        promtool_tests=tuple(promtool_tests),
    )


def _rule_files(reader: FieldReader, top: dict[str, Any], path: Path) -> tuple[Path, ...]:
    """`rule_files` as promtool reads them: relative to the test file, globs expanded."""
    found: list[Path] = []
    for index, entry in enumerate(reader.string_list(top, (), "rule_files")):
        pattern = entry if Path(entry).is_absolute() else str(path.parent / entry)
        matches = sorted(glob.glob(pattern))
        if not matches:
            reader.fail(("rule_files", index), f"no file matches {pattern}")
        found.extend(Path(match) for match in matches)
    return tuple(found)


def _stream_test(reader: FieldReader, raw: dict[str, Any], path: KeyPath) -> StreamTest | None:
    for key in sorted(_PROMTOOL_TEST_KEYS & raw.keys()):
        hint = "; test recording rules with recorded_test" if key == "promql_expr_test" else ""
        reader.fail(
            (*path, key),
            f"`{key}` belongs to promtool's input_series tests; a test has either input_series "
            f"or input_events{hint}",
        )
    test = reader.mapping(raw, path, STREAM_TEST_KEYS | _PROMTOOL_TEST_KEYS, "a test")
    if test is None:
        return None
    name = test.get("name")
    if name is not None and not isinstance(name, str):
        reader.fail((*path, "name"), "expected a string")
    generators = _input_events(reader, test.get(INPUT_EVENTS), (*path, INPUT_EVENTS))
    return StreamTest(
        name=name if isinstance(name, str) else "",
        events=tuple(generators),
        alert_tests=tuple(alert_tests(reader, test, path)),
        line=reader.line(path),
        recorded_tests=tuple(recorded_tests(reader, test, path)),
    )


def _input_events(reader: FieldReader, raw: Any, path: KeyPath) -> list[EventGenerator]:
    """`input_events: {receipts: [...], submits: [...]}`: the generators of every source."""
    by_source = reader.mapping(raw, path, STREAM_SOURCES, "input_events (events by source)")
    generators: list[EventGenerator] = []
    for source, raw_list in (by_source or {}).items():
        if source not in EVENT_SHAPES:
            continue  # reported as an unknown key
        entries = reader.sequence(raw_list, (*path, source), f"{source} event generators")
        for index, raw_generator in enumerate(entries or []):
            generator = _generator(reader, raw_generator, (*path, source, index), source)
            if generator is not None:
                generators.append(generator)
    return generators


def _generator(reader: FieldReader, raw: Any, path: KeyPath, source: str) -> EventGenerator | None:
    shape = EVENT_SHAPES[source]
    if not isinstance(raw, dict):
        reader.fail(path, f"expected a mapping ({source} events), got {type(raw).__name__}")
        return None
    before = len(reader.problems)
    for key in raw:
        if key not in TIMING_KEYS and key not in shape.settable:
            _unknown_field(reader, (*path, key), source, shape, key)
    span = _span(reader, raw, path)
    every_ms = millis(reader, raw, path, "every", _DEFAULT_EVERY_MS)
    if every_ms <= 0:
        reader.fail((*path, "every"), "must be longer than 0s")
    count = raw.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        reader.fail((*path, "count"), "expected a whole number ≥ 1 (events per tick)")
    fields: dict[str, Choices] = {}
    for key, value in raw.items():
        if key in shape.settable:
            choices = _choices(reader, (*path, key), key, value, shape)
            if choices is not None:
                fields[key] = choices
    if len(reader.problems) != before or span is None:
        return None
    _check_events(reader, path, shape, fields)
    if len(reader.problems) != before:
        return None
    return EventGenerator(source, span[0], span[1], every_ms, count, fields, line=reader.line(path))


def _unknown_field(
    reader: FieldReader, path: KeyPath, source: str, shape: EventShape, key: Any
) -> None:
    if key == LATENCY:
        reader.fail(path, f"{source} events carry no latency")
        return
    hint = _FIELD_HINTS.get(str(key))
    known = ", ".join(sorted(TIMING_KEYS | shape.settable))
    reader.fail(path, hint or f"unknown field of {source} events (known: {known})")


def _span(reader: FieldReader, raw: dict[str, Any], path: KeyPath) -> tuple[int, int | None] | None:
    """`at: 30s` (one tick) or `at: 0s..5m` (from 0s, up to but not including 5m)."""
    if "at" not in raw:
        reader.fail(path, "`at` is required: a time (`at: 30s`) or a span (`at: 0s..5m`)")
        return None
    text = raw["at"]
    parts = text.split("..") if isinstance(text, str) else [text]
    try:
        times = [
            to_ms(parse_duration(part.strip() if isinstance(part, str) else part)) for part in parts
        ]
    except DurationError as exc:
        reader.fail((*path, "at"), f"{exc} (write `at: 30s` or `at: 0s..5m`)")
        return None
    if len(times) == 1:
        return times[0], None
    if len(times) != 2 or times[1] <= times[0]:
        reader.fail((*path, "at"), f"{text!r}: a span is `start..end` with end after start")
        return None
    return times[0], times[1]


def _choices(
    reader: FieldReader, path: KeyPath, key: str, value: Any, shape: EventShape
) -> Choices | None:
    """A field's value, or its weighted values when written as `{value: weight, ...}`."""
    if not isinstance(value, dict) or key in shape.map_fields:
        weighted: list[tuple[Any, Any]] = [(value, 1.0)]
    elif not value:
        reader.fail(path, "expected at least one `value: weight`")
        return None
    else:
        weighted = list(value.items())
        for option, weight in weighted:
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
                reader.fail((*path, option), "a weight is a number above 0 (e.g. 0.2)")
                return None
    if key != LATENCY:
        return tuple((option, float(weight)) for option, weight in weighted)
    try:
        return tuple((parse_duration(option), float(weight)) for option, weight in weighted)
    except DurationError as exc:
        reader.fail(path, str(exc))
        return None


def _check_events(
    reader: FieldReader, path: KeyPath, shape: EventShape, fields: Mapping[str, Choices]
) -> None:
    """Build an event with each value written, so a bad one is reported at load, by field."""
    first = {key: choices[0][0] for key, choices in fields.items()}
    variants = [first] + [
        {**first, key: option} for key, choices in fields.items() for option, _ in choices[1:]
    ]
    for values in variants:
        problem = shape.problem(values, EPOCH)
        if problem is not None:
            where = (*path, problem.field.split(".")[0]) if problem.field else path
            reader.fail(where, problem.message)
            return
