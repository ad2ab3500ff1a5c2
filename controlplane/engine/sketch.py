"""Latency sketches for windows: DDSketch's logarithmic bins, kept so windows add and subtract them.

A bucket's latencies are a sparse map of DDSketch bin key → count (`dict[int, int]`), so buckets
from several replicas merge by adding counts. A window keeps the running sum of its buckets' bins
in a dense list and subtracts a bucket's bins when the bucket leaves, so reading p50/p95/p99 never
re-merges the window's buckets: the cost of a quantile is one pass over the window's occupied
range of bins, whatever the window length. The key mapping is ddsketch's `LogarithmicMapping`
(same keys, same values), so results match `ddsketch.DDSketch` at the same relative accuracy.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from itertools import accumulate
from typing import Final

from ddsketch.mapping import LogarithmicMapping

# The bin of latencies too small to index (and of negative ones from clock skew): they read as 0.
ZERO_KEY: Final = -(2**31)
_BLOCK_BITS: Final = 4
_BLOCK: Final = 1 << _BLOCK_BITS  # bins per block sum, see WindowSketch
# Below this a latency counts as zero. Indexing smaller values would only widen the dense range a
# window walks for every quantile; in seconds this is one millisecond.
MIN_INDEXED: Final = 1e-3


class SketchMapping:
    """Maps a latency to its DDSketch bin key and a key back to a value, at a relative accuracy."""

    __slots__ = ("_mapping", "_values", "multiplier", "relative_accuracy")

    def __init__(self, relative_accuracy: float = 0.01) -> None:
        self._mapping = LogarithmicMapping(relative_accuracy)
        self.relative_accuracy = relative_accuracy
        # LogarithmicMapping's own multiplier, recomputed here because the hot path inlines
        # `ceil(log(value, 2) * multiplier)` instead of paying for two method calls per event.
        gamma_mantissa = 2 * relative_accuracy / (1 - relative_accuracy)
        self.multiplier: float = math.log(2) / math.log1p(gamma_mantissa)
        # Bin values, remembered: windows ask for the same few hundred keys every round.
        self._values: dict[int, float] = {ZERO_KEY: 0.0}

    def key(self, value: float) -> int:
        """The bin key of one latency (ZERO_KEY below MIN_INDEXED)."""
        if value < MIN_INDEXED:
            return ZERO_KEY
        return math.ceil(math.log(value, 2) * self.multiplier)

    def value(self, key: int) -> float:
        """The value a bin stands for (within the relative accuracy of every value in it)."""
        value = self._values.get(key)
        if value is None:
            value = self._values[key] = float(self._mapping.value(key))
        return value


class WindowSketch:
    """The running sum of a window's bins: add a bucket's bins, subtract them when it leaves.

    Bins are dense from `offset`; `blocks` holds the sum of every _BLOCK bins, so a quantile
    scans ~a dozen block sums and then one block, not every bin of the window."""

    __slots__ = (
        "_quantiles",
        "_running",
        "_running_block",
        "_through_block",
        "blocks",
        "count",
        "counts",
        "offset",
        "zeros",
    )

    def __init__(self) -> None:
        self.offset = 0  # the key of counts[0]
        self.counts: list[int] = []
        self.blocks: list[int] = []
        self.zeros = 0
        self.count = 0  # events in counts (zeros excluded)
        # Until the next add: quantiles read so far, the running sums of `blocks`, and the
        # running counts within the last block a quantile was found in.
        self._quantiles: dict[float, float] | None = None
        self._through_block: list[int] | None = None
        self._running_block = -1
        self._running: list[int] = []

    def add(self, bins: dict[int, int], sign: int = 1) -> None:
        """Add (sign=1) or subtract (sign=-1) one bucket's bins."""
        if not bins:
            return
        self._quantiles = self._through_block = None
        self._running_block = -1
        zeros = bins.get(ZERO_KEY, 0)
        if zeros:
            self.zeros += sign * zeros
            bins = {key: number for key, number in bins.items() if key != ZERO_KEY}
            if not bins:
                return
        # Cover the bucket's range once, so the loop below (the cost of moving a window) has
        # no bounds checks: a subtracted bucket's range is always covered already.
        low, high = min(bins), max(bins)
        if low < self.offset or high >= self.offset + len(self.counts) or not self.counts:
            self._cover(low, high)
        counts, blocks, offset = self.counts, self.blocks, self.offset
        for key, number in bins.items():
            index = key - offset
            number *= sign
            counts[index] += number
            blocks[index >> _BLOCK_BITS] += number
        self.count += sign * sum(bins.values())
        if self.count == 0:
            # Empty again: forget the range, so a window that moved to other latencies stays small.
            self.counts, self.blocks, self.offset = [], [], 0

    def _cover(self, low: int, high: int) -> None:
        """Grow the dense range to include keys `low`..`high` (rebuilding the block sums)."""
        if not self.counts:
            self.offset = low
            self.counts = [0] * (high - low + 1)
        else:
            if low < self.offset:
                self.counts = [0] * (self.offset - low) + self.counts
                self.offset = low
            if high >= self.offset + len(self.counts):
                self.counts.extend([0] * (high - self.offset - len(self.counts) + 1))
        counts = self.counts
        self.blocks = [
            sum(counts[start : start + _BLOCK]) for start in range(0, len(counts), _BLOCK)
        ]

    def quantile(self, mapping: SketchMapping, quantile: float) -> float:
        """The value at `quantile` (0 for an empty sketch), by DDSketch's lower-rank rule: the
        first bin whose cumulative count exceeds q·(n−1). Kept until the next add."""
        known = self._quantiles
        if known is None:
            known = self._quantiles = {}
        elif (value := known.get(quantile)) is not None:
            return value
        total = self.count + self.zeros
        rank = quantile * (total - 1) - self.zeros
        if total == 0 or rank < 0:
            value = 0.0
        else:
            # Find the block by the running block sums, then the bin by that block's running
            # counts: two short C-level scans instead of one over every bin of the window.
            through_block = self._through_block
            if through_block is None:
                through_block = self._through_block = list(accumulate(self.blocks))
            block = bisect_right(through_block, rank)
            below = through_block[block - 1] if block else 0
            start = block << _BLOCK_BITS
            if self._running_block == block:  # p95 and p99 often share a block
                running = self._running
            else:
                running = self._running = list(accumulate(self.counts[start : start + _BLOCK]))
                self._running_block = block
            value = mapping.value(start + bisect_right(running, rank - below) + self.offset)
        known[quantile] = value
        return value
