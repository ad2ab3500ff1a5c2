"""Expands a stream test's event generators into batches in time order, as ingest would see them.

Weighted fields (`status: {DELIVERED: 0.6, FAILED: 0.4}`) are dealt by a counter, not at random:
each value's share of the events a generator has emitted so far is within one event of its
weight at every point, so any window over a steady timeline reads the written share and a test
gives the same answer on every run. Fields with the same weights in the same order line up, so
`status: {DELIVERED: 0.7, FAILED: 0.3}` with `error_code: {null: 0.7, UNDELIV: 0.3}` gives
exactly the failed receipts the code.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from controlplane.engine.ruletest.events import EVENT_SHAPES
from controlplane.engine.ruletest.model import Choices, EventGenerator

# promtool's t=0 is the Unix epoch; eval times and event times count from it here too.
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def time_at(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


@dataclass(frozen=True)
class TimedBatch:
    """Events of one source arriving at one time."""

    at_ms: int
    source: str
    events: list[Any]


class FieldDealer:
    """Picks every field's value for each next event, in proportion to the written weights."""

    def __init__(self, fields: Mapping[str, Choices]) -> None:
        self._fixed = {name: choices[0][0] for name, choices in fields.items() if len(choices) == 1}
        self._weighted: list[tuple[str, list[Any], list[float], list[int]]] = []
        for name, choices in fields.items():
            if len(choices) > 1:
                total = sum(weight for _, weight in choices)
                self._weighted.append(
                    (
                        name,
                        [value for value, _ in choices],
                        [weight / total for _, weight in choices],
                        [0] * len(choices),
                    )
                )
        self._dealt = 0

    def next(self) -> dict[str, Any]:
        self._dealt += 1
        values = dict(self._fixed)
        for name, options, shares, emitted in self._weighted:
            # The value furthest behind its share; the first written wins a tie.
            behind = [
                share * self._dealt - count for share, count in zip(shares, emitted, strict=True)
            ]
            pick = behind.index(max(behind))
            emitted[pick] += 1
            values[name] = options[pick]
        return values


def _batches(index: int, generator: EventGenerator) -> Iterator[TimedBatch]:
    shape = EVENT_SHAPES[generator.source]
    dealer = FieldDealer(generator.fields)
    serial = itertools.count()
    prefix = f"{generator.source}-{index}-"
    for at_ms in generator.tick_times():
        at = time_at(at_ms)
        events = [
            shape.build(dealer.next(), at, f"{prefix}{next(serial)}")
            for _ in range(generator.count)
        ]
        yield TimedBatch(at_ms, generator.source, events)


def timeline(generators: Iterable[EventGenerator]) -> Iterator[TimedBatch]:
    """Every generator's events merged in time order, one batch per (time, source).

    Events of the same time keep the order their generators were written in.
    """
    merged = heapq.merge(
        *(_batches(index, generator) for index, generator in enumerate(generators)),
        key=lambda batch: batch.at_ms,
    )
    for (at_ms, source), group in itertools.groupby(
        merged, key=lambda batch: (batch.at_ms, batch.source)
    ):
        yield TimedBatch(at_ms, source, [event for batch in group for event in batch.events])
