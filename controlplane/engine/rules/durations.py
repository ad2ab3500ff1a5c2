"""Prometheus duration strings (`1h30m`, `30s`, `500ms`, `2d`) to seconds and back."""

from __future__ import annotations

import re

# Units largest first, each at most once, as Prometheus' model.ParseDuration accepts them.
_UNITS: tuple[tuple[str, float], ...] = (
    ("y", 365 * 24 * 3600.0),
    ("w", 7 * 24 * 3600.0),
    ("d", 24 * 3600.0),
    ("h", 3600.0),
    ("m", 60.0),
    ("s", 1.0),
    ("ms", 0.001),
)
_DURATION = re.compile("".join(rf"(?:(?P<{unit}>[0-9]+){unit})?" for unit, _ in _UNITS))


class DurationError(ValueError):
    """A string that is not a Prometheus duration."""


def parse_duration(text: object) -> float:
    """Seconds in a duration such as `1h30m`, `30s`, `500ms`, `2d`; `0` alone is zero.

    Integers other than 0 are refused, as Prometheus refuses them: a bare `30` is ambiguous.
    """
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise DurationError(f"expected a duration such as 30s, 2m or 1h, got {_kind(text)}")
    if isinstance(text, int):
        text = str(text)
    if text == "":
        raise DurationError("empty duration")
    if text == "0":
        return 0.0
    if text.isdigit():
        raise DurationError(f"{text} has no unit: write {text}s, {text}m or {text}h")
    match = _DURATION.fullmatch(text)
    if match is None:
        raise DurationError(
            f"{text!r} is not a duration: use whole numbers with units y, w, d, h, m, s, ms, "
            "largest first (e.g. 1h30m, 30s, 500ms)"
        )
    return sum(float(match.group(unit) or 0) * seconds for unit, seconds in _UNITS)


def format_duration(seconds: float) -> str:
    """The shortest Prometheus duration string for `seconds` (`90` → `1m30s`, `0` → `0s`)."""
    if seconds < 0:
        raise ValueError("durations are never negative")
    remaining_ms = round(seconds * 1000)
    if remaining_ms == 0:
        return "0s"
    parts: list[str] = []
    for unit, unit_seconds in _UNITS:
        unit_ms = round(unit_seconds * 1000)
        count, remaining_ms = divmod(remaining_ms, unit_ms)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__
