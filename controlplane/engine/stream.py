"""One stream of events (source, filter, by): a ring of per-second buckets shared by its windows.

Events fold into the open slab: the buckets of the current second, one per label set. An event
counts as its fact's weight (sources.py): 1, or 1/sample_ratio for a sampled receipt. A slab
closes when time moves on or a reader asks (later events of the same second open a second slab
for that second); closing adds each of its buckets to the running sums of every window, once.
When a second falls out of a window its buckets are subtracted from that window's sums. So an
event costs a few dict increments, and reading a window costs nothing per second of its length.
The ring is as long as the longest window; shorter windows read the same buckets.

Label sets are capped: past `label_cap` live label sets, new ones fold into the `other` label set
and `folded_events` counts the events that went there. A label set is live until it has been
idle for `idle_ttl_s` (at least the ring length), so `no_data_for` keeps growing for a label set
that went quiet, and a flood of new label sets cannot grow memory without bound.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

from controlplane.engine.buckets import Bucket, WindowSums
from controlplane.engine.event_filter import EventFilter
from controlplane.engine.labels import OTHER, LabelKeys
from controlplane.engine.sources import Fact
from controlplane.engine.specs import StreamKey

log = logging.getLogger(__name__)


class _Slab:
    """The buckets of one second, or of the part of it since a reader closed the previous slab."""

    __slots__ = ("buckets", "folds", "lookup", "second")

    def __init__(self, second: int) -> None:
        self.second = second
        self.folds = False  # whether label sets beyond the cap were folded into `other` here
        self.buckets: dict[Hashable, Bucket] = {}
        # Buckets by event key: every label set in `buckets`, plus those folded into `other`.
        self.lookup: dict[Hashable, Bucket] = {}


class _Window:
    __slots__ = ("expired_through", "seconds", "sums")

    def __init__(self, seconds: int, expired_through: int) -> None:
        self.seconds = seconds
        self.sums: dict[Hashable, WindowSums] = {}
        # Every second up to this one has left the window (or never entered it).
        self.expired_through = expired_through


class Stream:
    """The buckets and window sums of one StreamKey. Not thread-safe: one task feeds and reads."""

    def __init__(
        self,
        key: StreamKey,
        label_keys: LabelKeys,
        keep: EventFilter | None,
        *,
        label_cap: int,
        idle_ttl_s: int,
        created_at: float,
        export_partials: bool,
    ) -> None:
        self.key = key
        self.label_keys = label_keys
        self.keep = keep
        self.created_at = created_at
        # Events (weighted) of label sets beyond the cap, folded into `other`.
        self.folded_events: float = 0
        self.late_partials = 0  # partial buckets too old for the ring when they arrived
        self._label_cap = label_cap
        self._idle_ttl_s = idle_ttl_s
        self._ring_len = 1
        self._slots: list[list[_Slab]] = [[]]  # slot second % ring_len: the slabs of that second
        self._open: _Slab | None = None
        self._latest = int(created_at)  # the newest second the stream has advanced to
        self._windows: dict[int, _Window] = {}
        # Live label sets and when each last had an event, least recent first.
        self._last_seen: OrderedDict[Hashable, float] = OrderedDict()
        self._new_keys: set[Hashable] = set()  # label sets of the open slab not yet live
        self._outbox: list[_Slab] | None = [] if export_partials else None
        self._warned_cap = False

    # -- windows ------------------------------------------------------------------------------

    def add_window(self, seconds: int) -> None:
        """Serve a window of `seconds`; its sums start from the buckets the ring already holds."""
        if seconds in self._windows:
            return
        if seconds > self._ring_len:
            self._resize(seconds)
        self.advance(self._latest)  # close the open slab, so every held slab is folded
        window = _Window(seconds, self._latest - seconds)
        for slot in self._slots:
            for slab in slot:
                if slab.second > window.expired_through:
                    _add_slab(window, slab)
        self._windows[seconds] = window

    def drop_window(self, seconds: int) -> None:
        self._windows.pop(seconds, None)

    @property
    def window_lengths(self) -> list[int]:
        return sorted(self._windows)

    def _resize(self, ring_len: int) -> None:
        # Slabs a ring length old are gone, even where no newer second has overwritten them yet.
        horizon = self._latest - self._ring_len
        slabs = [slab for slot in self._slots for slab in slot if slab.second > horizon]
        self._ring_len = ring_len
        self._slots = [[] for _ in range(ring_len)]
        for slab in slabs:
            self._slots[slab.second % ring_len].append(slab)
        self._idle_ttl_s = max(self._idle_ttl_s, ring_len)

    # -- writing ------------------------------------------------------------------------------

    def fold(self, events: Sequence[Any], facts: list[Fact], second: int, at: float) -> None:
        """Add a batch of events (with their facts) to the buckets of `second`."""
        slab = self._open
        if slab is None or second > slab.second:  # (a clock stepping back stays in the open one)
            slab = self._start_slab(second)
        lookup = slab.lookup
        key_of = self.label_keys.key_of
        keep = self.keep
        for event, (outcome, code, bin_key, weight) in zip(events, facts, strict=True):
            if keep is not None and not keep(event):
                continue
            key = key_of(event)
            bucket = lookup.get(key)
            if bucket is None:
                bucket = self._bucket(slab, key)
            bucket.total += weight
            outcomes = bucket.outcomes
            outcomes[outcome] = outcomes.get(outcome, 0) + weight
            if code is not None:
                codes = bucket.codes
                codes[code] = codes.get(code, 0) + weight
            if bin_key is not None:
                bins = bucket.bins
                bins[bin_key] = bins.get(bin_key, 0) + weight
            bucket.last_at = at

    def _start_slab(self, second: int) -> _Slab:
        """Open the slab new events of `second` go to (time never runs backwards here)."""
        second = max(second, self._latest)
        self.advance(second)
        slab = _Slab(second)
        self._place(slab)
        self._open = slab
        return slab

    def _place(self, slab: _Slab) -> None:
        slot = self._slots[slab.second % self._ring_len]
        if slot and slot[0].second != slab.second:
            # The previous occupant is a ring length older: every window has already let it go.
            slot.clear()
        slot.append(slab)

    def _bucket(self, slab: _Slab, key: Hashable) -> Bucket:
        """The bucket a label set not yet in this slab gets, or `other`'s when over the cap."""
        live = self._last_seen
        if key not in live and len(live) + len(self._new_keys) >= self._label_cap:
            key_for_lookup, key = key, self.label_keys.other
            bucket = slab.buckets.get(key)
            if bucket is None:
                bucket = slab.buckets[key] = Bucket()
            slab.lookup[key_for_lookup] = bucket
            slab.folds = True
            if not self._warned_cap:
                self._warned_cap = True  # once: the counter tells how much, the log that it began
                log.warning(
                    "event=label_cap_reached source=%s by=%s cap=%d folds_into=%s",
                    self.key.source,
                    ",".join(self.key.by),
                    self._label_cap,
                    OTHER,
                )
            if key not in live:
                self._new_keys.add(key)
            return bucket
        bucket = slab.buckets.get(key)  # `other` may already hold folded label sets here
        if bucket is None:
            bucket = slab.buckets[key] = Bucket()
        slab.lookup[key] = bucket
        if key not in live:
            self._new_keys.add(key)
        return bucket

    # -- time ---------------------------------------------------------------------------------

    def advance(self, now_s: int) -> None:
        """Close the open slab and let every window drop the seconds that left it by `now_s`."""
        if self._open is not None:
            self._close(self._open, export=True)
            self._open = None
        previous = self._latest
        for window in self._windows.values():
            self._expire(window, now_s - window.seconds, previous)
        if now_s > self._latest:
            self._latest = now_s
        self._forget_idle(now_s)

    def _close(self, slab: _Slab, *, export: bool) -> None:
        """Fold a finished slab into the windows it belongs to; its label sets become live."""
        for window in self._windows.values():
            if slab.second > window.expired_through:
                _add_slab(window, slab)
        live = self._last_seen
        for key, bucket in slab.buckets.items():
            if bucket.last_at >= live.get(key, 0.0):
                live[key] = bucket.last_at
                live.move_to_end(key)
        self._new_keys.clear()
        other = slab.buckets.get(self.label_keys.other)
        if other is not None and slab.folds:
            self.folded_events += other.total
        if export and self._outbox is not None:
            self._outbox.append(slab)

    def _expire(self, window: _Window, through: int, previous_latest: int) -> None:
        # Every held slab is newer than previous_latest - ring_len, so start no earlier than that.
        start = max(window.expired_through + 1, previous_latest - self._ring_len + 1)
        if through - start >= self._ring_len:  # a long idle gap: visit the slots, not the seconds
            seconds: Iterable[int] = sorted(
                {slot[0].second for slot in self._slots if slot and start <= slot[0].second}
            )
        else:
            seconds = range(start, through + 1)
        sums_by_key = window.sums
        for second in seconds:
            if second > through:
                break
            slot = self._slots[second % self._ring_len]
            if not slot or slot[0].second != second:
                continue
            for slab in slot:
                for key, bucket in slab.buckets.items():
                    sums = sums_by_key.get(key)
                    if sums is not None:
                        sums.add(bucket, -1)
                        if not sums.total:
                            del sums_by_key[key]
        if through > window.expired_through:
            window.expired_through = through

    def _forget_idle(self, now_s: int) -> None:
        live = self._last_seen
        horizon = now_s - self._idle_ttl_s
        while live:
            key, last_at = next(iter(live.items()))
            if last_at >= horizon:
                break
            del live[key]

    # -- reading ------------------------------------------------------------------------------

    def window(self, seconds: int, now_s: int) -> dict[Hashable, WindowSums]:
        """The running sums of the window of `seconds` ending at `now_s`, per label set."""
        self.advance(now_s)
        return self._windows[seconds].sums

    @property
    def last_seen(self) -> Mapping[Hashable, float]:
        """Live label sets and the time of their last event."""
        return self._last_seen

    # -- partials -----------------------------------------------------------------------------

    def take_partials(self, now_s: int) -> list[tuple[int, dict[Hashable, Bucket]]]:
        """The (second, buckets) of every slab closed since the last take (exporting replicas)."""
        self.advance(now_s)
        if self._outbox is None:
            return []
        taken = [(slab.second, slab.buckets) for slab in self._outbox]
        self._outbox.clear()
        return taken

    def merge(self, second: int, buckets: Iterable[tuple[Hashable, Bucket]], now_s: int) -> bool:
        """Add another replica's buckets of `second`; False when the ring no longer holds it."""
        self.advance(now_s)
        second = min(second, self._latest)  # a replica clock ahead of ours: count it as now
        if second <= self._latest - self._ring_len:
            self.late_partials += 1
            return False
        slab = _Slab(second)
        self._place(slab)
        for key, bucket in buckets:
            target = slab.lookup.get(key)
            if target is None:
                target = self._bucket(slab, key)
            target.merge(bucket)
        self._close(slab, export=False)  # another replica's buckets are not ours to re-export
        return True


def _add_slab(window: _Window, slab: _Slab) -> None:
    sums_by_key = window.sums
    for key, bucket in slab.buckets.items():
        sums = sums_by_key.get(key)
        if sums is None:
            sums = sums_by_key[key] = WindowSums()
        sums.add(bucket)
