"""The loaded form of a rule test file: stream tests with event timelines, and promtool's tests.

Times are whole milliseconds from the start of the test (promtool's t=0), so a timeline of
`every: 100ms` steps never drifts the way sums of float seconds would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

# promtool's default `evaluation_interval` (cmd/promtool/unittest.go).
DEFAULT_EVALUATION_INTERVAL_MS: Final = 60_000

# A field's possible values with their weights, in the order written. A fixed value is one
# choice of weight 1; `status: {DELIVERED: 0.6, FAILED: 0.4}` is two.
Choices = tuple[tuple[Any, float], ...]


@dataclass(frozen=True)
class EventGenerator:
    """`{at: 0s..60s, every: 100ms, count: 2, <event fields>}`: one source's events on a timeline.

    Ticks run from `start_ms` (inclusive) to `end_ms` (exclusive) every `every_ms`, or once at
    `start_ms` when `end_ms` is None; each tick emits `count` events.
    """

    source: str
    start_ms: int
    end_ms: int | None
    every_ms: int
    count: int
    fields: Mapping[str, Choices]  # event fields the test sets, `latency` (in seconds) included
    line: int | None = None

    def tick_times(self) -> range:
        """The times of the ticks, in milliseconds."""
        if self.end_ms is None:
            return range(self.start_ms, self.start_ms + 1)
        return range(self.start_ms, self.end_ms, self.every_ms)


@dataclass(frozen=True)
class ExpectedAlert:
    """One firing alert a test expects: its labels (alertname aside) and all its annotations."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]


@dataclass(frozen=True)
class AlertTestCase:
    """`{eval_time, alertname, exp_alerts}`: the firing alerts of one rule at one time."""

    eval_time_ms: int
    alertname: str
    expected: tuple[ExpectedAlert, ...]
    line: int | None = None  # of its `alertname`, which problems with the case point at


@dataclass(frozen=True, order=True)
class Sample:
    """One series of a recording rule: its labels sorted by name (`__name__` aside), its value."""

    labels: tuple[tuple[str, str], ...]
    value: float


@dataclass(frozen=True)
class RecordedTestCase:
    """`{eval_time, record, exp_samples}`: every series one recording rule holds at one time."""

    eval_time_ms: int
    record: str
    expected: tuple[Sample, ...]  # sorted by labels
    line: int | None = None  # of its `record`, which problems with the case point at


@dataclass(frozen=True)
class StreamTest:
    """A test whose input is `input_events`, run in-process against the stream rules."""

    name: str
    events: tuple[EventGenerator, ...]
    alert_tests: tuple[AlertTestCase, ...]
    line: int | None = None
    recorded_tests: tuple[RecordedTestCase, ...] = ()

    @property
    def max_eval_time_ms(self) -> int:
        times = [case.eval_time_ms for case in self.alert_tests]
        times.extend(case.eval_time_ms for case in self.recorded_tests)
        return max(times, default=0)


@dataclass(frozen=True)
class RuleTestFile:
    """A test file: the rule files it loads, its evaluation step, and its tests by runner.

    `promtool_tests` are the indexes (in `tests:`) of the tests promtool runs: those with
    `input_series`, or with no input at all.
    """

    path: Path
    rule_files: tuple[Path, ...]  # resolved against the test file's directory, globs expanded
    evaluation_interval_ms: int
    group_eval_order: tuple[str, ...]
    stream_tests: tuple[StreamTest, ...]
    promtool_tests: tuple[int, ...]
