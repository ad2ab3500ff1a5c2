"""Sliding windows over the event streams: what rules register, feed and read.

A `WindowSpec` is what one rule reads (source, filter, by, window length). The `WindowStore` keeps
one `Stream` per (source, filter, by), shared by every rule that agrees on those three; windows
of different lengths read different spans of the same per-second buckets.

Bucket time is the store's clock at ingest, not a time inside the event: a supplier's or carrier's
clock skew, or a receipt that arrives hours late, then cannot put events in the past or future of
a window, and "the last two minutes" means the last two minutes of traffic the control plane saw.
(Receipt latency still comes from the event's own times.) One `add_batch` reads the clock once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controlplane.engine.aggregates import Aggregates, Reading, check_labels
from controlplane.engine.buckets import EMPTY_SUMS, WindowSums
from controlplane.engine.cel_expr import CelExpression
from controlplane.engine.event_filter import EventFilter
from controlplane.engine.labels import LabelKeys, LabelSet
from controlplane.engine.partials import PartialBuckets
from controlplane.engine.programs import WindowProgram
from controlplane.engine.sketch import SketchMapping
from controlplane.engine.sources import source_named
from controlplane.engine.specs import StreamKey, WindowSpec
from controlplane.engine.stream import Stream
from smsplatform.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamStats:
    """A stream's health, for `/metrics`."""

    source: str
    filter: str | None
    by: tuple[str, ...]
    label_sets: int
    folded_events: float  # events (weighted) of label sets beyond the cap, folded into `other`
    late_partials: int  # partial buckets that arrived after their second left the ring
    filter_errors: int  # events the filter could not be evaluated on (left out)


class WindowStore:
    """Every registered window, fed by `add_batch` (or `merge_partials`) and read by rules.

    A load registers each rule's WindowSpec and compiles each window's conditions into one
    WindowProgram; every round, `advance` then `evaluate` each program. Pure and in memory, and
    not thread-safe: one task (the event loop) feeds and reads it."""

    def __init__(
        self,
        clock: Clock,
        *,
        label_cap: int = 10_000,
        idle_ttl_s: int = 3600,
        relative_accuracy: float = 0.01,
        export_partials: bool = False,
        replica: str = "",
    ) -> None:
        """`label_cap`: live label sets per stream before new ones fold into `other`.
        `idle_ttl_s`: how long a label set that went quiet stays (reading total 0, growing
        no_data_for). `export_partials`: keep closed buckets for `take_partials` (ingest
        replicas). `replica` names this process in the partials it exports."""
        if label_cap < 1:
            raise ValueError("label_cap must be at least 1")
        self._clock = clock
        self._label_cap = label_cap
        self._idle_ttl_s = idle_ttl_s
        self._mapping = SketchMapping(relative_accuracy)
        self._export_partials = export_partials
        self._replica = replica
        self._streams: dict[StreamKey, Stream] = {}
        self._streams_by_source: dict[str, list[Stream]] = defaultdict(list)
        self._filters: dict[tuple[str, str], EventFilter] = {}
        self.unmatched_partials = 0  # partials of streams (or sketch accuracies) not held here

    @property
    def relative_accuracy(self) -> float:
        """The latency sketches' relative accuracy; partials merge only between equal ones."""
        return self._mapping.relative_accuracy

    # -- registration -------------------------------------------------------------------------

    def register(self, spec: WindowSpec) -> None:
        """Start serving `spec` (idempotent). Raises ValueError (CelSyntaxError for a filter
        that does not parse) naming what is wrong: unknown source, label or filter field."""
        source = source_named(spec.source)
        stream = self._streams.get(spec.stream)
        if stream is None:
            label_keys = LabelKeys(source, spec.by)
            check_labels(source.name, spec.by)
            keep = None
            if spec.filter is not None:
                keep = self._filters.get((source.name, spec.filter))
                if keep is None:
                    keep = EventFilter(CelExpression(spec.filter), source)
                    self._filters[(source.name, spec.filter)] = keep
            stream = Stream(
                spec.stream,
                label_keys,
                keep,
                label_cap=self._label_cap,
                idle_ttl_s=self._idle_ttl_s,
                created_at=self._clock.now().timestamp(),
                export_partials=self._export_partials,
            )
            self._streams[spec.stream] = stream
            self._streams_by_source[source.name].append(stream)
        stream.add_window(spec.window_s)

    def retain(self, specs: Iterable[WindowSpec]) -> None:
        """Keep only what `specs` need (after a rule reload): drop other streams and windows."""
        wanted: dict[StreamKey, set[int]] = defaultdict(set)
        for spec in specs:
            wanted[spec.stream].add(spec.window_s)
        for key, stream in list(self._streams.items()):
            if key not in wanted:
                del self._streams[key]
                self._streams_by_source[key.source].remove(stream)
                continue
            for seconds in stream.window_lengths:
                if seconds not in wanted[key]:
                    stream.drop_window(seconds)

    def compile(
        self, spec: WindowSpec, expressions: Sequence[CelExpression], joined: Sequence[str] = ()
    ) -> WindowProgram:
        """Compile the expressions of one window (the `when` of its rules), once, at load.

        Raises UnknownVariableError for a name that is neither an aggregate of the source, one
        of the `by` labels, nor a `joined` source. Before evaluating, register `spec` and, for
        each joined source, `program.joined`."""
        source_named(spec.source)
        return WindowProgram(spec, expressions, joined)

    # -- writing ------------------------------------------------------------------------------

    def add_batch(self, source: str, events: Sequence[Any]) -> None:
        """Fold a batch of one source's events into every stream of that source."""
        streams = self._streams_by_source.get(source)
        if not streams:
            source_named(source)  # an unknown source is an error; a known one nobody reads is not
            return
        if not events:
            return
        at = self._clock.now().timestamp()
        facts = source_named(source).facts(events, self._mapping)
        second = int(at)
        for stream in streams:
            stream.fold(events, facts, second, at)

    # -- reading ------------------------------------------------------------------------------

    def advance(self, now: datetime | None = None) -> None:
        """Close the current second's buckets and expire old seconds in every window.

        Reads do this themselves; a scheduler may call it first each round, so the cost of
        moving the windows (per label set, not per rule) is paid once and apart from rules."""
        now_s = int((now or self._clock.now()).timestamp())
        for stream in self._streams.values():
            stream.advance(now_s)

    def evaluate(
        self,
        program: WindowProgram,
        now: datetime | None = None,
        label_sets: Iterable[LabelSet] | None = None,
    ) -> dict[LabelSet, list[Any]]:
        """Run `program` on every live label set of its window ending at `now` (the clock's time
        by default), or on those of them in `label_sets`: label set → one result per
        expression, a CelEvaluationError where one failed."""
        now_ts = (now or self._clock.now()).timestamp()
        joined = [self._joined_window(spec, now_ts) for spec in program.joined]
        window_s = program.spec.window_s
        mapping = self._mapping
        rows = list(
            self._rows(program.spec, now_ts)
            if label_sets is None
            else self._rows_of(program.spec, now_ts, label_sets)
        )
        if joined:
            readings = [
                Reading(
                    window_s,
                    mapping,
                    sums,
                    no_data_for,
                    tuple(
                        Reading(
                            window_s,
                            mapping,
                            sums_by_key.get(key, EMPTY_SUMS),
                            max(now_ts - last_seen.get(key, quiet_since), 0.0),
                        )
                        for sums_by_key, last_seen, quiet_since in joined
                    ),
                )
                for key, _, sums, no_data_for in rows
            ]
        else:
            readings = [
                Reading(window_s, mapping, sums, no_data_for) for *_, sums, no_data_for in rows
            ]
        labelled = [labels for _, labels, *_ in rows]
        return dict(zip(labelled, program.run_all(readings, labelled), strict=True))

    def _joined_window(
        self, spec: WindowSpec, now_ts: float
    ) -> tuple[dict[Hashable, WindowSums], Mapping[Hashable, float], float]:
        """A joined source's window: sums and last events by key (the same keys: same `by`),
        and since when a key never seen has been quiet."""
        stream = self._stream(spec)
        return stream.window(spec.window_s, int(now_ts)), stream.last_seen, stream.created_at

    def aggregates(
        self, spec: WindowSpec, now: datetime | None = None
    ) -> dict[LabelSet, Aggregates]:
        """Every aggregate of every live label set of `spec`'s window ending at `now` (for the
        console, alert annotations and tests; rules go through `evaluate`)."""
        now_ts = (now or self._clock.now()).timestamp()
        return {
            labels: Aggregates.read(
                spec.source,
                spec.by,
                labels,
                Reading(spec.window_s, self._mapping, sums, no_data_for),
            )
            for _, labels, sums, no_data_for in self._rows(spec, now_ts)
        }

    def _rows(
        self, spec: WindowSpec, now_ts: float
    ) -> Iterator[tuple[Hashable, LabelSet, WindowSums, float]]:
        """Each live label set of a window: its key, labels, running sums and the seconds since
        its last event.

        A label set that stopped sending stays (total 0, growing no_data_for) until it has been
        idle for `idle_ttl_s`; an ungrouped window always has its one label set `()`, so a rule
        can alert on traffic that never came."""
        stream = self._stream(spec)
        sums_by_key = stream.window(spec.window_s, int(now_ts))
        labels_of = stream.label_keys.labels
        last_seen = stream.last_seen
        for key, last_at in last_seen.items():
            yield key, labels_of(key), sums_by_key.get(key, EMPTY_SUMS), max(now_ts - last_at, 0.0)
        if len(last_seen) < len(sums_by_key):  # sums of a label set already forgotten as idle
            for key, sums in sums_by_key.items():
                if key not in last_seen:
                    yield key, labels_of(key), sums, 0.0
        if not spec.by and () not in last_seen:
            yield (), (), EMPTY_SUMS, max(now_ts - stream.created_at, 0.0)

    def _rows_of(
        self, spec: WindowSpec, now_ts: float, label_sets: Iterable[LabelSet]
    ) -> Iterator[tuple[Hashable, LabelSet, WindowSums, float]]:
        """The rows `_rows` yields for these label sets only, looked up one by one: a rule's
        values are read where its alerts are, a few label sets of the window's thousands."""
        stream = self._stream(spec)
        sums_by_key = stream.window(spec.window_s, int(now_ts))
        key_of = stream.label_keys.key
        last_seen = stream.last_seen
        for labels in label_sets:
            key = key_of(labels)
            last_at = last_seen.get(key)
            if last_at is not None:
                yield key, labels, sums_by_key.get(key, EMPTY_SUMS), max(now_ts - last_at, 0.0)
            elif key in sums_by_key:
                yield key, labels, sums_by_key[key], 0.0
            elif not spec.by:
                yield (), (), EMPTY_SUMS, max(now_ts - stream.created_at, 0.0)

    def _stream(self, spec: WindowSpec) -> Stream:
        stream = self._streams.get(spec.stream)
        if stream is None or spec.window_s not in stream.window_lengths:
            raise ValueError(f"window {spec} is not registered")
        return stream

    def stats(self) -> list[StreamStats]:
        """Each stream's label sets, folded events and refused inputs (for `/metrics`)."""
        return [
            StreamStats(
                key.source,
                key.filter,
                key.by,
                len(stream.last_seen),
                stream.folded_events,
                stream.late_partials,
                stream.keep.errors if stream.keep is not None else 0,
            )
            for key, stream in self._streams.items()
        ]

    # -- partials (ARCHITECTURE.md, scaling) --------------------------------------------------

    def take_partials(self, now: datetime | None = None) -> list[PartialBuckets]:
        """Buckets closed since the last take, per stream and second, for `cp.partials`.

        Only a store made with `export_partials=True` keeps them; others return []."""
        now_s = int((now or self._clock.now()).timestamp())
        partials = []
        for key, stream in self._streams.items():
            labels_of = stream.label_keys.labels
            for second, buckets in stream.take_partials(now_s):
                partials.append(
                    PartialBuckets(
                        key.source,
                        key.filter,
                        key.by,
                        second,
                        [labels_of(label_key) for label_key in buckets],
                        list(buckets.values()),
                        self._mapping.relative_accuracy,
                        self._replica,
                    )
                )
        return partials

    def merge_partials(
        self, partials: Iterable[PartialBuckets], now: datetime | None = None
    ) -> int:
        """Add other replicas' partial buckets into these windows; returns how many were merged
        (a partial of an unknown stream, or older than its ring, is counted and skipped)."""
        now_s = int((now or self._clock.now()).timestamp())
        merged = 0
        for partial in partials:
            stream = self._streams.get(StreamKey(partial.source, partial.filter, partial.by))
            if stream is None or partial.relative_accuracy != self._mapping.relative_accuracy:
                # Sketch bins of another accuracy are other bins: adding them would be wrong.
                self.unmatched_partials += 1
                continue
            try:  # check the whole partial before adding any of it
                keys = [stream.label_keys.key(labels) for labels in partial.labels]
                labelled = list(zip(keys, partial.buckets, strict=True))
            except ValueError as exc:
                self.unmatched_partials += 1
                log.warning(
                    "event=partial_refused source=%s replica=%s second=%d error=%r",
                    partial.source,
                    partial.replica,
                    partial.second,
                    str(exc),
                )
                continue
            merged += stream.merge(partial.second, labelled, now_s)
        return merged
