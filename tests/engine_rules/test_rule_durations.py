"""Prometheus duration strings in rule files: what parses, what is refused, how they print."""

from __future__ import annotations

import pytest

from controlplane.engine.rules import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("1m500ms", 60.5),
        ("2d", 172800.0),
        ("1w", 604800.0),
        ("1y", 365 * 86400.0),
        ("1d2h3m4s5ms", 93784.005),
        ("0", 0.0),
        ("0s", 0.0),
        (0, 0.0),
    ],
)
def test_prometheus_durations_parse_to_seconds(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1m1h", "largest first"),
        ("1.5s", "not a duration"),
        ("30sec", "not a duration"),
        ("1h 30m", "not a duration"),
        ("-5m", "not a duration"),
        ("30", "30 has no unit"),
        (30, "30 has no unit"),
        ("", "empty duration"),
        (None, "got nothing"),
        (True, "got bool"),
        (1.5, "got float"),
    ],
)
def test_malformed_durations_are_refused_with_a_reason(text: object, message: str) -> None:
    with pytest.raises(DurationError, match=message):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.5, "500ms"), (90, "1m30s"), (3600, "1h"), (86400 * 8 + 1.5, "1w1d1s500ms")],
)
def test_durations_print_in_their_shortest_prometheus_form(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)
