"""Per-second buckets, the mergeable state of one label set, and a window's running sums of them.

A bucket holds only what adds up: an event count, counts per outcome (a receipt's status, a
submit's accepted/rejected, a log's level, a probe's ok/failed), counts per error code, latency
sketch bins and the time of the last event. Buckets of the same second from several replicas
merge by addition (`Bucket.merge`), which is what makes a window the same sum of buckets on one
machine as on many. `WindowSums` is a window's running total: a bucket is added once when it
enters and subtracted once when it leaves, so reading counts costs nothing per window second.

Counts are ints while every event weighs 1; a sampled receipt (sources.py, weights) makes the
counts it touches floats, exact ones (multiples of 1/WEIGHT_UNITS), so sums still cancel to 0.
"""

from __future__ import annotations

import msgspec

from controlplane.engine.sketch import WindowSketch


class Bucket(msgspec.Struct, forbid_unknown_fields=True):
    """What one label set accumulated in one second (or a replica's share of that second)."""

    # Weighted counts: `int | float` so that unweighted ones stay ints across the bus.
    total: int | float = 0
    outcomes: dict[str, int | float] = msgspec.field(default_factory=dict)
    codes: dict[str, int | float] = msgspec.field(default_factory=dict)
    bins: dict[int, int | float] = msgspec.field(default_factory=dict)
    # Unix time of the newest event, by the ingesting replica's clock; merges by max.
    last_at: float = 0.0

    def merge(self, other: Bucket) -> None:
        """Add `other` into this bucket: afterwards it holds the events of both."""
        self.total += other.total
        _add_counts(self.outcomes, other.outcomes, 1)
        _add_counts(self.codes, other.codes, 1)
        bins = self.bins
        for key, number in other.bins.items():
            bins[key] = bins.get(key, 0) + number
        self.last_at = max(self.last_at, other.last_at)


class WindowSums:
    """The running sum of the buckets inside one window, for one label set."""

    __slots__ = ("codes", "outcomes", "sketch", "total")

    def __init__(self) -> None:
        self.total: float = 0
        self.outcomes: dict[str, float] = {}
        self.codes: dict[str, float] = {}
        self.sketch = WindowSketch()

    def add(self, bucket: Bucket, sign: int = 1) -> None:
        """Add a bucket entering the window (sign=1) or subtract one leaving it (sign=-1)."""
        self.total += sign * bucket.total
        _add_counts(self.outcomes, bucket.outcomes, sign)
        _add_counts(self.codes, bucket.codes, sign)
        if bucket.bins:
            self.sketch.add(bucket.bins, sign)


def _add_counts(into: dict[str, float], counts: dict[str, int | float], sign: int) -> None:
    """Add counts into a running map, dropping names that fall to zero (they left the window)."""
    for name, number in counts.items():
        remaining = into.get(name, 0) + sign * number
        if remaining:
            into[name] = remaining
        else:
            into.pop(name, None)


# What a label set with no event in a window reads from; never added to.
EMPTY_SUMS = WindowSums()
