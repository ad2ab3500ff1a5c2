"""Window aggregates per source: the variables a rule's `when` reads, computed from running sums.

Rates with no events are neutral, so an empty window never looks like an outage: success-type
rates (`delivery_rate`, `accept_rate`, `success_rate`) read 1.0, failure-type rates and shares
(`failure_rate`, `reject_rate`, `error_share[...]`) read 0.0, quantiles read 0.0. Silence is its
own signal: guard rate rules with `total >= N` and alert on missing traffic with `total == 0` or
`no_data_for > S`. `rate_per_s` divides by the full window length. Receipt quantiles are seconds
(reported_at − submitted_at), submit and probe quantiles milliseconds. A code or level a map does
not hold reads 0 when indexed with a literal (`error_share["E123"]`).

Counts weigh each event (a sampled receipt counts as 1/sample_ratio receipts, sources.py), and
read as the nearest whole number, so a rule's counts are ints whether or not receipts were
sampled; rates and shares divide the exact weighted sums.

Real-valued aggregates are kept as integer billionths (exact to 1e-9, far inside any threshold a
rule states): the CEL binding converts a Python int about five times faster than a float, and
rule programs read them as `double(n) / 1e9`, which is bit-for-bit the float Python shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from controlplane.engine.buckets import EMPTY_SUMS, WindowSums
from controlplane.engine.labels import LabelSet
from controlplane.engine.sketch import SketchMapping
from controlplane.engine.sources import LOG_LEVELS, WEIGHT_UNITS

NANO: Final = 1_000_000_000


class Reading:
    """What variables read for one label set in one window: its running sums and the seconds
    since its last event."""

    __slots__ = ("joined", "mapping", "no_data_for", "sums", "window_s")

    def __init__(
        self,
        window_s: int,
        mapping: SketchMapping,
        sums: WindowSums = EMPTY_SUMS,
        no_data_for: float = 0.0,
        joined: tuple[Reading, ...] = (),
    ) -> None:
        self.window_s = window_s
        self.mapping = mapping
        self.sums = sums
        self.no_data_for = no_data_for
        # The same label set in the same window of other sources (`receipts.total` in a
        # submits rule).
        self.joined = joined


Kind = Literal["count", "real", "count_map", "real_map"]
Reader = Callable[[Reading], Any]


@dataclass(frozen=True)
class Variable:
    """One aggregate: `read` gives an int (billionths for reals), or a map of them;
    `entry(key)` makes a reader of one entry of a map (0 when absent)."""

    kind: Kind
    read: Reader
    entry: Callable[[str], Reader] | None = None

    def value(self, reading: Reading) -> Any:
        """The aggregate as Python shows it."""
        raw = self.read(reading)
        if self.kind == "real":
            return raw / NANO
        if self.kind == "real_map":
            return {key: number / NANO for key, number in raw.items()}
        return raw


def _ratio(part: float, total: float) -> int:
    """part / total in billionths, rounded half up, in exact integer arithmetic."""
    if type(part) is int and type(total) is int:
        return (part * NANO + total // 2) // total
    # Weighted counts are whole multiples of 1/WEIGHT_UNITS: scaled, they are exact ints.
    scaled_total = round(total * WEIGHT_UNITS)
    return (round(part * WEIGHT_UNITS) * NANO + scaled_total // 2) // scaled_total


def _count(outcome: str) -> Variable:
    return Variable("count", lambda reading: round(reading.sums.outcomes.get(outcome, 0)))


def _rate(outcomes: tuple[str, ...], when_empty: int) -> Variable:
    def rate(reading: Reading) -> int:
        sums = reading.sums
        total = sums.total
        if not total:
            return when_empty
        counts = sums.outcomes
        part: float = 0
        for outcome in outcomes:
            part += counts.get(outcome, 0)
        if type(part) is int and type(total) is int:  # _ratio, inlined: rates are read often
            return (part * NANO + total // 2) // total
        return _ratio(part, total)

    return Variable("real", rate)


def _quantile(quantile: float) -> Variable:
    return Variable(
        "real",
        lambda reading: round(reading.sums.sketch.quantile(reading.mapping, quantile) * NANO),
    )


def _error_share(reading: Reading) -> dict[str, int]:
    total = reading.sums.total
    return {code: _ratio(number, total) for code, number in reading.sums.codes.items()}


def _error_share_of(code: str) -> Reader:
    def error_share(reading: Reading) -> int:
        sums = reading.sums
        number = sums.codes.get(code)
        return _ratio(number, sums.total) if number else 0

    return error_share


def _count_of(attribute: str, key: str) -> Reader:
    if attribute == "outcomes":
        return lambda reading: round(reading.sums.outcomes.get(key, 0))
    return lambda reading: round(reading.sums.codes.get(key, 0))


def _by_level(reading: Reading) -> dict[str, int]:
    outcomes = reading.sums.outcomes
    return {level: round(outcomes.get(level, 0)) for level in LOG_LEVELS}


def _error_count(reading: Reading) -> int:
    outcomes = reading.sums.outcomes
    return round(outcomes.get("ERROR", 0) + outcomes.get("CRITICAL", 0))


_COMMON: Final[dict[str, Variable]] = {
    "total": Variable("count", lambda reading: round(reading.sums.total)),
    "rate_per_s": Variable("real", lambda reading: _ratio(reading.sums.total, reading.window_s)),
    "no_data_for": Variable("real", lambda reading: round(reading.no_data_for * NANO)),
}
_LATENCY: Final[dict[str, Variable]] = {
    "p50": _quantile(0.5),
    "p95": _quantile(0.95),
    "p99": _quantile(0.99),
}
_ERROR_SHARE: Final = Variable("real_map", _error_share, _error_share_of)

# Every aggregate a window of each source offers, by name.
VALUES: Final[dict[str, dict[str, Variable]]] = {
    "receipts": {
        **_COMMON,
        "delivered": _count("DELIVERED"),
        "failed": _count("FAILED"),
        "expired": _count("EXPIRED"),
        "rejected": _count("REJECTED"),
        "unknown": _count("UNKNOWN"),
        "delivery_rate": _rate(("DELIVERED",), NANO),
        "failure_rate": _rate(("FAILED", "EXPIRED", "REJECTED"), 0),
        **_LATENCY,
        "error_share": _ERROR_SHARE,
    },
    "submits": {
        **_COMMON,
        "accepted": _count("accepted"),
        "rejected": _count("rejected"),
        "accept_rate": _rate(("accepted",), NANO),
        "reject_rate": _rate(("rejected",), 0),
        **_LATENCY,
        "error_share": _ERROR_SHARE,
    },
    "supplier_logs": {
        **_COMMON,
        "by_level": Variable("count_map", _by_level, lambda level: _count_of("outcomes", level)),
        "by_code": Variable(
            "count_map",
            lambda reading: {code: round(n) for code, n in reading.sums.codes.items()},
            lambda code: _count_of("codes", code),
        ),
        "error_count": Variable("count", _error_count),
        "warning_count": _count("WARNING"),
    },
    "probes": {
        **_COMMON,
        "ok": _count("ok"),
        "failed": _count("failed"),
        "success_rate": _rate(("ok",), NANO),
        "failure_rate": _rate(("failed",), 0),
        **_LATENCY,
    },
}


class UnknownVariableError(ValueError):
    """An expression reads a name that is neither an aggregate of its source nor a label."""


def check_labels(source: str, by: Iterable[str]) -> None:
    """ValueError when a `by` label has an aggregate's name: CEL could not tell them apart."""
    clashes = sorted(set(by) & set(VALUES[source]))
    if clashes:
        raise ValueError(f"labels {', '.join(clashes)} clash with {source} aggregates")


class Aggregates(Mapping[str, Any]):
    """One label set's aggregates over one window: a read-only snapshot (label values included,
    by label name), for the console, alert annotations and tests."""

    __slots__ = ("_values", "by", "labels")

    def __init__(self, by: tuple[str, ...], labels: LabelSet, values: dict[str, Any]) -> None:
        self.by = by
        self.labels = labels
        self._values = values

    @classmethod
    def read(
        cls, source: str, by: tuple[str, ...], labels: LabelSet, reading: Reading
    ) -> Aggregates:
        values = {name: variable.value(reading) for name, variable in VALUES[source].items()}
        values.update(zip(by, labels, strict=True))
        return cls(by, labels, values)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def label_dict(self) -> dict[str, str]:
        """The label set as alert labels: name → value, absent values as ""."""
        return {
            name: "" if value is None else str(value)
            for name, value in zip(self.by, self.labels, strict=True)
        }

    def __repr__(self) -> str:
        return f"Aggregates({self.labels!r}, {self._values!r})"
