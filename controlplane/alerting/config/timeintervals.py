"""Named time intervals (Alertmanager `time_intervals`): parsing and whether an instant falls in."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from controlplane.engine.rules.fields import FieldReader, Path

_CLOCK = re.compile(r"^(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))$")
_WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_MONTHS = tuple(name.lower() for name in calendar.month_name[1:])
_INTERVAL_KEYS = ("times", "weekdays", "days_of_month", "months", "years", "location")


@dataclass(frozen=True)
class Span:
    """An inclusive range of integers (weekday 0 = Sunday, day of month, month, year)."""

    begin: int
    end: int


@dataclass(frozen=True)
class TimeOfDay:
    """Minutes since midnight, start included, end excluded (end may be 24:00 = 1440)."""

    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class TimeInterval:
    """One entry of a named interval: every field given must match; an absent field matches all."""

    times: tuple[TimeOfDay, ...] | None = None
    weekdays: tuple[Span, ...] | None = None
    days_of_month: tuple[Span, ...] | None = None
    months: tuple[Span, ...] | None = None
    years: tuple[Span, ...] | None = None
    location: tzinfo | None = None

    def contains(self, at: datetime) -> bool:
        """Whether `at` falls in this interval, read in its location (UTC when none is given)."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        local = at.astimezone(self.location or UTC)
        minute = local.hour * 60 + local.minute
        if self.times is not None and not any(
            span.start_minute <= minute < span.end_minute for span in self.times
        ):
            return False
        if self.days_of_month is not None and not any(
            _day_in(span, local) for span in self.days_of_month
        ):
            return False
        weekday = (local.weekday() + 1) % 7  # Python counts from Monday, Alertmanager from Sunday
        checks = ((self.months, local.month), (self.weekdays, weekday), (self.years, local.year))
        return all(
            spans is None or any(span.begin <= value <= span.end for span in spans)
            for spans, value in checks
        )


@dataclass(frozen=True)
class NamedTimeInterval:
    """A `time_intervals` entry: an instant is in it when any of its intervals contains it."""

    name: str
    intervals: tuple[TimeInterval, ...]

    def contains(self, at: datetime) -> bool:
        return any(interval.contains(at) for interval in self.intervals)


def _day_in(span: Span, local: datetime) -> bool:
    days = calendar.monthrange(local.year, local.month)[1]
    # Negative days count from the month's end: -1 is its last day.
    begin = days + span.begin + 1 if span.begin < 0 else span.begin
    end = days + span.end + 1 if span.end < 0 else span.end
    if end < 1:
        return False
    return max(begin, 1) <= local.day <= min(end, days)


def read_named_interval(reader: FieldReader, raw: Any, path: Path) -> NamedTimeInterval | None:
    """One `{name, time_intervals: [...]}` entry; problems go to `reader`."""
    entry = reader.mapping(raw, path, ("name", "time_intervals"), "time interval")
    if entry is None:
        return None
    name = reader.string(entry, path, "name", required=True)
    items = reader.sequence(entry.get("time_intervals") or [], (*path, "time_intervals"), "ranges")
    intervals = [
        read_interval(reader, item, (*path, "time_intervals", index))
        for index, item in enumerate(items or [])
    ]
    if name is None or any(interval is None for interval in intervals):
        return None
    return NamedTimeInterval(name, tuple(i for i in intervals if i is not None))


def read_interval(reader: FieldReader, raw: Any, path: Path) -> TimeInterval | None:
    entry = reader.mapping(raw, path, _INTERVAL_KEYS, "time interval range")
    if entry is None:
        return None
    before = len(reader.problems)
    times = _read_times(reader, entry, path)
    weekdays = _read_spans(reader, entry, path, "weekdays", _weekday)
    days = _read_spans(reader, entry, path, "days_of_month", _day_of_month)
    months = _read_spans(reader, entry, path, "months", _month)
    years = _read_spans(reader, entry, path, "years", _year)
    location = _read_location(reader, entry, path)
    if len(reader.problems) > before:
        return None
    return TimeInterval(times, weekdays, days, months, years, location)


def _read_times(
    reader: FieldReader, entry: dict[str, Any], path: Path
) -> tuple[TimeOfDay, ...] | None:
    if entry.get("times") is None:
        return None
    items = reader.sequence(entry["times"], (*path, "times"), "time ranges")
    spans: list[TimeOfDay] = []
    for index, item in enumerate(items or []):
        where = (*path, "times", index)
        span = reader.mapping(item, where, ("start_time", "end_time"), "time range")
        if span is None:
            continue
        start = _clock_minutes(reader, span, where, "start_time")
        end = _clock_minutes(reader, span, where, "end_time")
        if start is None or end is None:
            continue
        if start >= end:
            reader.fail(where, "start_time must be before end_time")
            continue
        spans.append(TimeOfDay(start, end))
    return tuple(spans)


def _clock_minutes(reader: FieldReader, span: dict[str, Any], path: Path, key: str) -> int | None:
    text = reader.string(span, path, key, required=True)
    if text is None:
        return None
    found = _CLOCK.match(text)
    if found is None:
        reader.fail((*path, key), f"{text!r} is not a time of day HH:MM (00:00 to 24:00)")
        return None
    hours, minutes = (found.group(1), found.group(2)) if found.group(1) else ("24", "00")
    return int(hours) * 60 + int(minutes)


def _read_spans(
    reader: FieldReader, entry: dict[str, Any], path: Path, key: str, parse: Callable[[str], int]
) -> tuple[Span, ...] | None:
    if entry.get(key) is None:
        return None
    items = reader.sequence(entry[key], (*path, key), "ranges")
    spans: list[Span] = []
    for index, item in enumerate(items or []):
        where = (*path, key, index)
        try:
            text = str(item).strip().lower()
            first, _, last = text.partition(":")
            begin = parse(first)
            end = parse(last) if last else begin
            if _ordered(key, begin) > _ordered(key, end):
                raise ValueError(f"range {item!r} starts after it ends")
        except ValueError as exc:
            reader.fail(where, str(exc))
            continue
        spans.append(Span(begin, end))
    return tuple(spans)


def _ordered(key: str, value: int) -> int:
    # Negative days of month count from the end; compare them as if in a 31-day month.
    return 32 + value if key == "days_of_month" and value < 0 else value


def _weekday(text: str) -> int:
    if text not in _WEEKDAYS:
        raise ValueError(f"{text!r} is not a weekday (sunday … saturday)")
    return _WEEKDAYS.index(text)


def _month(text: str) -> int:
    if text in _MONTHS:
        return _MONTHS.index(text) + 1
    value = _integer(text, "month")
    if not 1 <= value <= 12:
        raise ValueError(f"month {value} is not between 1 and 12")
    return value


def _day_of_month(text: str) -> int:
    value = _integer(text, "day of month")
    if value == 0 or not -31 <= value <= 31:
        raise ValueError(f"day of month {value} is not between 1 and 31 (or -31 and -1)")
    return value


def _year(text: str) -> int:
    value = _integer(text, "year")
    if value < 1:
        raise ValueError(f"year {value} is not positive")
    return value


def _integer(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a {what}") from None


def _read_location(reader: FieldReader, entry: dict[str, Any], path: Path) -> tzinfo | None:
    name = reader.string(entry, path, "location")
    if name is None:
        return None
    if name == "Local":
        return datetime.now().astimezone().tzinfo
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        reader.fail((*path, "location"), f"unknown time zone {name!r}")
        return None
