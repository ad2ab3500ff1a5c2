"""Prometheus' template functions (humanize and friends), rendering exactly as Prometheus does.

Ported from the behaviour of prometheus/template/template.go: SI prefixes with 4 significant
digits (`1234567` → `1.235M`), binary prefixes for humanize1024, `1m 30s` durations, `12.34%`
percentages, and Go's `+Inf`/`NaN` spellings. Arguments may be numbers or numeric strings.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Final

from controlplane.engine.rules.gofmt import go_g, go_type

_BIG_SI: Final = ("k", "M", "G", "T", "P", "E", "Z", "Y")
_SMALL_SI: Final = ("m", "u", "n", "p", "f", "a", "z", "y")
_BINARY: Final = ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi")
# What Go's strconv.ParseFloat accepts in decimal (no `_` separators, which Python allows).
_GO_FLOAT: Final = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE
)


class TemplateFunctionError(ValueError):
    """A template function was given an argument it cannot use (as Prometheus would fail)."""


def to_float(value: object) -> float:
    """Prometheus' convertToFloat: floats, integers and numeric strings."""
    if isinstance(value, bool):
        raise TemplateFunctionError("can't convert bool to float")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if not _GO_FLOAT.fullmatch(value):
            raise TemplateFunctionError(f'strconv.ParseFloat: parsing "{value}": invalid syntax')
        return float(value)
    raise TemplateFunctionError(f"can't convert {go_type(value)} to float")


def humanize(value: object) -> str:
    number = to_float(value)
    if number == 0 or math.isnan(number) or math.isinf(number):
        return go_g(number, 4)
    prefix = ""
    if abs(number) >= 1:
        for candidate in _BIG_SI:
            if abs(number) < 1000:
                break
            prefix = candidate
            number /= 1000
        return go_g(number, 4) + prefix
    for candidate in _SMALL_SI:
        if abs(number) >= 1:
            break
        prefix = candidate
        number *= 1000
    return go_g(number, 4) + prefix


def humanize1024(value: object) -> str:
    number = to_float(value)
    if abs(number) <= 1 or math.isnan(number) or math.isinf(number):
        return go_g(number, 4)
    prefix = ""
    for candidate in _BINARY:
        if abs(number) < 1024:
            break
        prefix = candidate
        number /= 1024
    return go_g(number, 4) + prefix


def humanize_duration(value: object) -> str:
    """Seconds as `1d 2h 3m 4s`, `1m 30s`, `1.5s` or `250ms`."""
    number = to_float(value)
    if math.isnan(number) or math.isinf(number):
        return go_g(number, 4)
    if number == 0:
        return go_g(number, 4) + "s"
    if abs(number) >= 1:
        sign = "-" if number < 0 else ""
        number = abs(number)
        whole = int(number)  # Go's int64() truncates toward zero, as int() does
        seconds, minutes = whole % 60, (whole // 60) % 60
        hours, days = (whole // 3600) % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{go_g(number, 4)}s"
    prefix = ""
    for candidate in _SMALL_SI:
        if abs(number) >= 1:
            break
        prefix = candidate
        number *= 1000
    return f"{go_g(number, 4)}{prefix}s"


def humanize_percentage(value: object) -> str:
    """A ratio as a percentage with 4 significant digits: 0.1234 → `12.34%`."""
    return go_g(to_float(value) * 100, 4) + "%"


def humanize_timestamp(value: object) -> str:
    """Unix seconds as Go prints a UTC time: `2015-06-23 13:19:44.128 +0000 UTC`."""
    number = to_float(value)
    if math.isnan(number) or math.isinf(number):
        return go_g(number, 4)
    nanos = int(number * 1e9)
    if not -(2**63) <= nanos < 2**63:
        raise TemplateFunctionError(
            f"{number} cannot be represented as a nanoseconds timestamp since it overflows int64"
        )
    seconds, fraction = divmod(nanos, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC)
    fraction_text = f".{fraction:09d}".rstrip("0") if fraction else ""
    return moment.strftime("%Y-%m-%d %H:%M:%S") + fraction_text + " +0000 UTC"


def go_title(text: object) -> str:
    """Go's strings.Title: upper-case the first letter of each word, leave the rest alone."""
    result: list[str] = []
    previous_is_separator = True
    for char in str(text):
        if previous_is_separator:
            result.append(char.upper())
        else:
            result.append(char)
        previous_is_separator = _is_separator(char)
    return "".join(result)


def _is_separator(char: str) -> bool:
    if char.isascii():
        return not (char.isalnum() or char == "_")
    if char.isalpha() or char.isdigit():
        return False
    return char.isspace()


def go_upper(text: object) -> str:
    return str(text).upper()


def go_lower(text: object) -> str:
    return str(text).lower()
