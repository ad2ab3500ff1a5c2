"""Recorded samples as promtool's `exp_samples` write them: a series string and a value.

A series is written `name{label="value", ...}`, as in promtool and PromQL; the name may be left
out (`{supplier="a"}`) since the test names its `record`, and a value is quoted as in JSON, which
is how a failed test prints it. Values compare as `promtool test rules --fuzzy-compare` compares
them: equal, or one floating-point step apart; NaN equals NaN (promtool never matches a NaN).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Final

from controlplane.engine.rules.model import LABEL_NAME, METRIC_NAME
from controlplane.engine.ruletest.model import Sample

_SERIES: Final = re.compile(r"\s*(?P<name>[^\s{]*)\s*(?:\{(?P<labels>.*)\})?\s*", re.DOTALL)
_LABEL: Final = re.compile(r'\s*(?P<name>[^\s=,]+)\s*=\s*(?P<value>"(?:[^"\\]|\\.)*")\s*(?:,|\Z)')
_NAME_LABEL: Final = "__name__"


class SeriesError(ValueError):
    """A series string that does not read as `name{label="value", ...}`."""


def parse_series(text: str) -> tuple[str | None, dict[str, str]]:
    """The metric name (None when left out) and labels of `name{label="value", ...}`."""
    found = _SERIES.fullmatch(text)
    if found is None:
        raise SeriesError(f'{text!r} is not a series: write name{{label="value", ...}}')
    name = found["name"] or None
    if name is not None and not METRIC_NAME.fullmatch(name):
        raise SeriesError(f"{name!r} is not a metric name")
    labels: dict[str, str] = {}
    body = found["labels"] or ""
    position = 0
    while body[position:].strip():
        pair = _LABEL.match(body, position)
        if pair is None:
            raise SeriesError(f'expected label="value" at {body[position:].strip()!r}')
        label = pair["name"]
        if not LABEL_NAME.fullmatch(label):
            raise SeriesError(f"{label!r} is not a label name")
        if label in labels or (label == _NAME_LABEL and name is not None):
            raise SeriesError(f"label {label!r} is written twice")
        try:
            labels[label] = json.loads(pair["value"])
        except json.JSONDecodeError:
            raise SeriesError(
                f"{pair['value']} is not a quoted value (escapes as in JSON)"
            ) from None
        position = pair.end()
    return labels.pop(_NAME_LABEL, name), labels


def samples_match(expected: Sequence[Sample], got: Sequence[Sample]) -> bool:
    """Whether both (each sorted by labels) hold the same series with the same values."""
    return len(expected) == len(got) and all(
        want.labels == have.labels and same_value(want.value, have.value)
        for want, have in zip(expected, got, strict=True)
    )


def same_value(expected: float, got: float) -> bool:
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    return got in (
        expected,
        math.nextafter(expected, -math.inf),
        math.nextafter(expected, math.inf),
    )
