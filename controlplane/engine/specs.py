"""What a rule reads from the windows: a WindowSpec, and the StreamKey windows share buckets by."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StreamKey:
    """What windows must agree on to share buckets; also what partial buckets are filed under."""

    source: str
    filter: str | None
    by: tuple[str, ...]


@dataclass(frozen=True)
class WindowSpec:
    """What one rule reads: events of `source` passing `filter` (CEL over the event, or None),
    grouped `by` labels, over the last `window_s` seconds."""

    source: str
    by: tuple[str, ...] = ()
    window_s: int = 60
    filter: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "by", tuple(self.by))
        if self.filter is not None and not self.filter.strip():
            object.__setattr__(self, "filter", None)
        if isinstance(self.window_s, bool) or not isinstance(self.window_s, int):
            raise ValueError(f"window_s must be whole seconds, got {self.window_s!r}")
        if self.window_s < 1:
            raise ValueError(f"window_s must be at least 1 second, got {self.window_s}")

    @property
    def stream(self) -> StreamKey:
        return StreamKey(self.source, self.filter, self.by)
