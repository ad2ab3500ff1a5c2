"""Latency sketches for windows: DDSketch's logarithmic bins, kept so windows add and subtract them.

A bucket's latencies are a sparse map of DDSketch bin key → count (weighted: a sampled receipt
counts 1/sample_ratio times, as DDSketch's weighted add does), so buckets
from several replicas merge by adding counts. A window keeps the running sum of its buckets' bins
in a dense list and subtracts a bucket's bins when the bucket leaves, so reading p50/p95/p99 never
re-merges the window's buckets: the cost of a quantile is one pass over the window's occupied
range of bins, whatever the window length. The key mapping is ddsketch's `LogarithmicMapping`
(same keys, same values), so results match `ddsketch.DDSketch` at the same relative accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

from ddsketch.mapping import LogarithmicMapping

# The bin of latencies too small to index (and of negative ones from clock skew): they read as 0.
ZERO_KEY: Final = -(2**31)
_BLOCK_BITS: Final = 4
_BLOCK: Final = 1 << _BLOCK_BITS  # bins per block sum, see WindowSketch
# The quantiles windows offer rules (p50, p95, p99), computed together.
STANDARD_QUANTILES: Final = (0.5, 0.95, 0.99)
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
    walks ~a dozen block sums and then one block, not every bin of the window."""

    __slots__ = (
        "_quantiles",
        "blocks",
        "count",
        "counts",
        "offset",
        "zeros",
    )

    def __init__(self) -> None:
        self.offset = 0  # the key of counts[0]
        self.counts: list[float] = []
        self.blocks: list[float] = []
        self.zeros: float = 0
        self.count: float = 0  # events in counts (zeros excluded)
        # Until the next add: quantiles read so far.
        self._quantiles: dict[float, float] | None = None

    def add(self, bins: Mapping[int, float], sign: int = 1) -> None:
        """Add (sign=1) or subtract (sign=-1) one bucket's bins."""
        if not bins:
            return
        self._quantiles = None
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
        first bin whose cumulative count exceeds q·(n−1). Kept until the next add.

        The first read after an add computes the three quantiles rules offer (p50, p95, p99)
        in one walk: every window reads two or three of them each round, and they lie on the
        same path through the block sums, often in the same block."""
        known = self._quantiles
        if known is None:
            known = self._quantiles = self._values_at(mapping, STANDARD_QUANTILES)
        value = known.get(quantile)
        if value is None:
            value = known[quantile] = self._values_at(mapping, (quantile,))[quantile]
        return value

    def _values_at(
        self, mapping: SketchMapping, quantiles: tuple[float, ...]
    ) -> dict[float, float]:
        """The values at `quantiles` (ascending), in one walk: whole blocks while their sum
        stays within the rank, then bin by bin, going on from the last quantile found."""
        zeros = self.zeros
        total = self.count + zeros
        counts, blocks = self.counts, self.blocks
        last_block = len(blocks) - 1
        values: dict[float, float] = {}
        block = 0
        below: float = 0  # the events of the blocks before `block`
        index = -1  # the bin of the last quantile found, and the events through it
        through: float = 0
        for quantile in quantiles:
            rank = quantile * (total - 1) - zeros
            if total == 0 or rank < 0:
                values[quantile] = 0.0
                continue
            if through <= rank:  # not in the last quantile's bin: walk on
                while block < last_block and below + blocks[block] <= rank:
                    below += blocks[block]
                    block += 1
                if index < block << _BLOCK_BITS:
                    index = block << _BLOCK_BITS
                    through = below + counts[index]
                while through <= rank:
                    index += 1
                    through += counts[index]
            values[quantile] = mapping.value(index + self.offset)
        return values
