"""Words a failed stream test: its alerts, or a rule's recorded series, as `-` expected, `+` got.

Alerts that match exactly, and series of the expected value, are not shown. The rest of the alerts
are paired before they are compared: first alerts with the same labels (their annotations
differ), then the most alike by shared labels and annotations, so a wrong supplier or a reworded
summary reads as a one-line change instead of one whole alert missing and another unexpected.
What has no partner is shown whole. A series is shown as a sample's `labels` and `value` are
written, `name{label="value"} 0.97`, so a right value can be copied into the test.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from controlplane.engine.rules.durations import format_duration
from controlplane.engine.ruletest.model import Sample
from controlplane.engine.ruletest.runner import (
    AlertMismatch,
    FiringAlert,
    Pairs,
    SampleMismatch,
    StreamTestResult,
)
from controlplane.engine.ruletest.samples import same_value

_MARGIN = "        "  # where the -/+ column stands, under promtool's `exp:`/`got:` lines


def failure_texts(result: StreamTestResult) -> list[str]:
    """One text per failure of a stream test, as promtool lists its errors."""
    texts = [mismatch_text(result.test.name, mismatch) for mismatch in result.mismatches]
    texts.extend(
        sample_mismatch_text(result.test.name, mismatch) for mismatch in result.sample_mismatches
    )
    if result.error is not None:
        texts.append(_named(result.test.name) + result.error)
    return texts


def mismatch_text(test_name: str, mismatch: AlertMismatch) -> str:
    """promtool's heading for the case, then the alert-by-alert diff."""
    case = mismatch.case
    heading = (
        f"{_named(test_name)}    alertname: {case.alertname}, "
        f"time: {format_duration(case.eval_time_ms / 1000)},"
    )
    return "\n".join([heading, *alert_diff(mismatch.expected, mismatch.got)])


def sample_mismatch_text(test_name: str, mismatch: SampleMismatch) -> str:
    """A heading like promtool's for a promql_expr_test, then the series-by-series diff."""
    case = mismatch.case
    heading = (
        f"{_named(test_name)}    record: {case.record}, "
        f"time: {format_duration(case.eval_time_ms / 1000)},"
    )
    return "\n".join([heading, *sample_diff(case.record, case.expected, mismatch.got)])


def sample_diff(record: str, expected: Sequence[Sample], got: Sequence[Sample]) -> list[str]:
    """The lines showing how `got` differs from `expected`, series by series in label order."""
    wanted = {sample.labels: sample.value for sample in expected}
    had = {sample.labels: sample.value for sample in got}
    same = {
        labels
        for labels, value in wanted.items()
        if labels in had and same_value(value, had[labels])
    }
    summary = f"expected {_count(len(expected), 'sample')}, got {len(got)}"
    if same:
        summary += f" ({len(same)} as expected, not shown)"
    lines = [f"{_MARGIN}{summary}; - expected, + got:"]
    for labels in sorted((wanted.keys() | had.keys()) - same):
        if labels in wanted:
            lines.append(_line("-", f"  {_series(record, labels)} {_value(wanted[labels])}"))
        if labels in had:
            lines.append(_line("+", f"  {_series(record, labels)} {_value(had[labels])}"))
    return lines


def alert_diff(expected: Sequence[FiringAlert], got: Sequence[FiringAlert]) -> list[str]:
    """The lines showing how `got` differs from `expected` (both sorted, as runner gives them)."""
    missing = [alert for alert in expected if alert not in got]
    extra = [alert for alert in got if alert not in expected]
    same = len(expected) - len(missing)
    summary = f"expected {_count(len(expected), 'firing alert')}, got {len(got)}"
    if same:
        summary += f" ({same} as expected, not shown)"
    lines = [f"{_MARGIN}{summary}; - expected, + got:"]
    for want, have in _pairs(missing, extra):
        if want is not None and have is not None:
            lines.append(_line(" ", "  alert differs:"))
            lines.extend(_section("labels", want.labels, have.labels))
            lines.extend(_section("annotations", want.annotations, have.annotations))
        elif want is not None:
            lines.extend(_whole("-", "expected, not firing", want))
        elif have is not None:
            lines.extend(_whole("+", "firing, not expected", have))
    return lines


def _pairs(
    missing: list[FiringAlert], extra: list[FiringAlert]
) -> list[tuple[FiringAlert | None, FiringAlert | None]]:
    """Expected alerts with the got alert most like each; the unpaired ones alone."""
    unpaired = list(extra)
    pairs: list[tuple[FiringAlert | None, FiringAlert | None]] = []
    for want in missing:
        partner = max(unpaired, key=lambda have: _likeness(want, have), default=None)
        if partner is not None and _likeness(want, partner) > (0, 0):
            unpaired.remove(partner)
            pairs.append((want, partner))
        else:
            pairs.append((want, None))
    pairs.extend((None, have) for have in unpaired)
    return pairs


def _likeness(want: FiringAlert, have: FiringAlert) -> tuple[int, int]:
    """Same labels first; then how many labels and annotations (alertname aside) agree."""
    shared = len(set(want.labels) & set(have.labels)) - 1  # alertname is always shared
    shared += len(set(want.annotations) & set(have.annotations))
    return (int(want.labels == have.labels), shared)


def _section(title: str, want: Pairs, have: Pairs) -> list[str]:
    if not want and not have:
        return []
    wanted, had = dict(want), dict(have)
    lines = [_line(" ", f"    {title}:")]
    for name in sorted(wanted.keys() | had.keys()):
        if wanted.get(name) == had.get(name):
            lines.append(_line(" ", f"      {_pair(name, wanted[name])}"))
            continue
        if name in wanted:
            lines.append(_line("-", f"      {_pair(name, wanted[name])}"))
        if name in had:
            lines.append(_line("+", f"      {_pair(name, had[name])}"))
    return lines


def _whole(marker: str, why: str, alert: FiringAlert) -> list[str]:
    lines = [_line(marker, f"  alert {why}:"), _line(marker, "    labels:")]
    lines.extend(_line(marker, f"      {_pair(name, value)}") for name, value in alert.labels)
    if alert.annotations:
        lines.append(_line(marker, "    annotations:"))
        lines.extend(
            _line(marker, f"      {_pair(name, value)}") for name, value in alert.annotations
        )
    return lines


def _line(marker: str, text: str) -> str:
    return f"{_MARGIN}{marker}{text}"


def _pair(name: str, value: str) -> str:
    # JSON quoting shows trailing spaces and newlines, as Go's %q does in promtool's output.
    return f"{name}={json.dumps(value, ensure_ascii=False)}"


def _series(record: str, labels: Pairs) -> str:
    """`name{label="value", ...}`, as a sample's `labels:` is written."""
    if not labels:
        return record
    return record + "{" + ", ".join(_pair(name, value) for name, value in labels) + "}"


def _value(value: float) -> str:
    """The shortest text that reads back as `value` (as YAML writes NaN and infinities)."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return repr(value)


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _named(test_name: str) -> str:
    return f"    name: {test_name},\n" if test_name else ""
