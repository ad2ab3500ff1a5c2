"""Label-set keys: how a stream turns an event into the key of its label set, and back.

Key extraction runs once per event per stream, so it is an `operator.attrgetter` built once per
(source, by) whenever every label is an attribute: a C call, no Python frame. A stream grouped by
one label keys by the bare value (what `attrgetter("supplier")` returns) and only readers see the
1-tuple; a stream with no `by` has the single key `()`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from operator import attrgetter
from typing import Any, Final

from controlplane.engine.sources import Source

LabelValue = str | int | bool | None
LabelSet = tuple[LabelValue, ...]

# The label value every label takes in the label set that label sets beyond the cap fold into.
OTHER: Final = "other"


def _no_labels(event: Any) -> tuple[()]:
    return ()


class LabelKeys:
    """The key function of one (source, by), and the conversions between keys and label sets."""

    __slots__ = ("by", "key_of", "other")

    def __init__(self, source: Source, by: Sequence[str]) -> None:
        self.by: tuple[str, ...] = tuple(by)
        unknown = [
            name
            for name in self.by
            if name not in source.label_attributes and source.label_map is None
        ]
        if unknown:
            known = ", ".join(sorted(source.label_attributes))
            raise ValueError(
                f"{source.name} cannot be grouped by {', '.join(unknown)}; labels: {known}"
            )
        if len(set(self.by)) != len(self.by):
            raise ValueError(f"by lists a label twice: {', '.join(self.by)}")
        self.key_of: Callable[[Any], Hashable] = _key_function(source, self.by)
        self.other: Hashable = OTHER if len(self.by) == 1 else (OTHER,) * len(self.by)

    def labels(self, key: Hashable) -> LabelSet:
        """The label values of a key, in `by` order."""
        if len(self.by) == 1:
            return (key,)  # type: ignore[return-value]
        return key  # type: ignore[return-value]

    def key(self, labels: Sequence[LabelValue]) -> Hashable:
        """The key of a label set (as it arrives in a replica's partial buckets)."""
        if len(labels) != len(self.by):
            raise ValueError(f"label set {list(labels)} does not match by {list(self.by)}")
        return labels[0] if len(self.by) == 1 else tuple(labels)


def _key_function(source: Source, by: tuple[str, ...]) -> Callable[[Any], Hashable]:
    if not by:
        return _no_labels
    if all(name in source.label_attributes for name in by):
        return attrgetter(*by)
    # Some labels live in the source's label map (a probe's `labels`): a missing one reads "".
    getters = [
        attrgetter(name) if name in source.label_attributes else _map_getter(source, name)
        for name in by
    ]
    if len(getters) == 1:
        return getters[0]
    return lambda event: tuple(getter(event) for getter in getters)


def _map_getter(source: Source, name: str) -> Callable[[Any], str]:
    mapping = attrgetter(source.label_map or "")
    return lambda event: mapping(event).get(name, "")
