"""Evaluates a PromQL recording rule: its query result becomes the series the rule records.

As Prometheus records: each series of the result keeps its labels without `__name__` (the
series is exported under the rule's `record` name), then the rule's labels are set over them (a
label set to "" is removed); two series that end with the same labels fail the evaluation. The
query runs at the evaluation time minus the group's `query_offset`. A failed query raises
`PromQLError` and never looks like an empty result, so the series recorded last stay as they
were: as in Prometheus, where a failed evaluation writes nothing (not even staleness markers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from controlplane.engine.promql.client import PromQLError, PromQLErrorKind, PromSample
from controlplane.engine.promql.evaluator import InstantQuerier

# A recorded series' labels, sorted: the key of one series of a recording rule.
SeriesKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PromQLRecordingRule:
    """What evaluating one PromQL recording rule needs; the engine's rule model maps onto it."""

    record: str
    expr: str
    labels: Mapping[str, str] = field(default_factory=dict)
    query_offset_s: float = 0.0  # the group's: how far before the evaluation time to query


def recorded_series(
    series: Iterable[PromSample], labels: Mapping[str, str]
) -> dict[SeriesKey, float]:
    """Each result series under its recorded labels; raises `PromQLError` on a label-set clash."""
    recorded: dict[SeriesKey, float] = {}
    for one in series:
        names = {name: value for name, value in one.labels.items() if name != "__name__"}
        for name, value in labels.items():
            if value:
                names[name] = value
            else:  # as Prometheus' label builder does with an empty value
                names.pop(name, None)
        key = tuple(sorted(names.items()))
        if key in recorded:
            # Prometheus refuses it in the same words.
            raise PromQLError(
                PromQLErrorKind.EXECUTION,
                "vector contains metrics with the same labelset after applying rule labels",
            )
        recorded[key] = one.value
    return recorded


async def record(
    rule: PromQLRecordingRule, client: InstantQuerier, at: datetime
) -> dict[SeriesKey, float]:
    """The rule's series at `at`; raises `PromQLError` when Prometheus gives no result."""
    query_at = at - timedelta(seconds=rule.query_offset_s)
    return recorded_series(await client.query_instant(rule.expr, query_at), rule.labels)
