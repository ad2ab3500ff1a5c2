"""Reads `oncall.schedules` of alerting.yaml into Schedules; problems name file, line and field."""

from __future__ import annotations

import contextlib
import re
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from controlplane.alerting.oncall.schedule import (
    Layer,
    Member,
    OnCall,
    Override,
    Rotation,
    Schedule,
)
from smsplatform.config.yamlsource import ConfigProblem, YamlDocument

Path = tuple[str | int, ...]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HHMM = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")
_LAYER_KEYS = frozenset(
    {"name", "rotation", "handoff_time", "handoff_day", "time_zone", "start", "end", "members"}
)
_SCHEDULE_KEYS = frozenset({"time_zone", "layers", "overrides"})
_OVERRIDE_KEYS = frozenset({"layer", "start", "end", "member"})


class _Reader:
    """Collects every problem instead of stopping at the first, as `alerting check` reports all."""

    def __init__(self, document: YamlDocument) -> None:
        self.document = document
        self.problems: list[ConfigProblem] = []

    def fail(self, path: Path, message: str) -> None:
        self.problems.append(self.document.problem(path, message))

    def mapping(self, raw: Any, path: Path, allowed: frozenset[str]) -> dict[str, Any] | None:
        if not isinstance(raw, dict):
            self.fail(path, "must be a mapping")
            return None
        for key in raw:
            if key not in allowed:
                self.fail((*path, str(key)), "unknown key")
        return raw

    def text(self, raw: dict[str, Any], path: Path, key: str) -> str | None:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            self.fail((*path, key), "required, a non-empty string")
            return None
        return value

    def zone(self, value: Any, path: Path) -> ZoneInfo | None:
        try:
            return ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(path, f"unknown time zone {value!r} (use an IANA name like Asia/Shanghai)")
            return None

    def day(self, raw: dict[str, Any], path: Path, key: str, required: bool) -> date | None:
        value = raw.get(key)
        if value is None and not required:
            return None
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.fail((*path, key), "required, a date YYYY-MM-DD" if required else "a date YYYY-MM-DD")
        return None

    def instant(self, raw: dict[str, Any], path: Path, key: str) -> datetime | None:
        value = raw.get(key)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = datetime.fromisoformat(value)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                # A wall time without an offset means different instants to different readers.
                self.fail((*path, key), "needs a UTC offset, e.g. 2026-01-07T09:00:00+08:00")
                return None
            return value
        self.fail((*path, key), "required, a time such as 2026-01-07T09:00:00+08:00")
        return None

    def member(self, raw: Any, path: Path) -> Member | None:
        mapping = self.mapping(raw, path, frozenset({"name", "phone"}))
        if mapping is None:
            return None
        name = self.text(mapping, path, "name")
        phone = mapping.get("phone")
        if isinstance(phone, int) and not isinstance(phone, bool):
            phone = str(phone)
        if not isinstance(phone, str) or not phone.strip():
            self.fail((*path, "phone"), 'required, a phone number (quote it: "+8613800000000")')
            return None
        return Member(name, phone.strip()) if name else None


def read_oncall(
    document: YamlDocument, prefix: Path = ("oncall", "schedules")
) -> tuple[OnCall, list[ConfigProblem]]:
    """The schedules found at `prefix` of `document` (none when absent), and every problem.

    The alerting config loader calls this once and keeps the result: schedules are parsed here
    and nowhere else.
    """
    raw: Any = document.data
    for part in prefix:
        raw = raw.get(part) if isinstance(raw, dict) else None
    if raw is None:
        return OnCall({}), []
    reader = _Reader(document)
    schedules: dict[str, Schedule] = {}
    if isinstance(raw, list):
        # alerting.yaml's form: a list of schedules, each with its `name` (as receivers are).
        for index, item in enumerate(raw):
            body = dict(item) if isinstance(item, dict) else item
            name = body.pop("name", None) if isinstance(body, dict) else None
            if not isinstance(name, str) or not name:
                reader.fail((*prefix, index), "a schedule needs a `name`")
                continue
            schedule = _schedule(reader, name, body, (*prefix, index))
            if schedule is not None:
                schedules[name] = schedule
    elif not isinstance(raw, dict):
        reader.fail(prefix, "must be a list of schedules or a mapping of name to schedule")
    else:
        for name, body in raw.items():
            schedule = _schedule(reader, str(name), body, (*prefix, str(name)))
            if schedule is not None:
                schedules[str(name)] = schedule
    return OnCall(schedules), reader.problems


def _schedule(reader: _Reader, name: str, raw: Any, path: Path) -> Schedule | None:
    body = reader.mapping(raw, path, _SCHEDULE_KEYS)
    if body is None:
        return None
    default_zone = reader.zone(body.get("time_zone", "UTC"), (*path, "time_zone"))
    layers_raw = body.get("layers")
    if not isinstance(layers_raw, list) or not layers_raw:
        reader.fail((*path, "layers"), "required, a list of at least one layer")
        return None
    layers = [
        _layer(reader, item, (*path, "layers", index), default_zone)
        for index, item in enumerate(layers_raw)
    ]
    known = {layer.name for layer in layers if layer is not None}
    overrides_raw = body.get("overrides", [])
    overrides: list[Override | None] = []
    if not isinstance(overrides_raw, list):
        reader.fail((*path, "overrides"), "must be a list")
    else:
        overrides = [
            _override(reader, item, (*path, "overrides", index), known)
            for index, item in enumerate(overrides_raw)
        ]
    return Schedule(
        name,
        tuple(layer for layer in layers if layer is not None),
        tuple(override for override in overrides if override is not None),
    )


def _layer(reader: _Reader, raw: Any, path: Path, default_zone: ZoneInfo | None) -> Layer | None:
    body = reader.mapping(raw, path, _LAYER_KEYS)
    if body is None:
        return None
    problems_before = len(reader.problems)
    name = reader.text(body, path, "name")
    rotation_raw = body.get("rotation")
    rotation = Rotation(rotation_raw) if rotation_raw in ("daily", "weekly") else None
    if rotation is None:
        reader.fail((*path, "rotation"), "required, daily or weekly")
    handoff = _handoff_time(reader, body.get("handoff_time", "09:00"), (*path, "handoff_time"))
    weekday_raw = body.get("handoff_day", "monday")
    weekday = WEEKDAYS.index(weekday_raw) if weekday_raw in WEEKDAYS else None
    if weekday is None:
        reader.fail((*path, "handoff_day"), f"one of {', '.join(WEEKDAYS)}")
    zone = reader.zone(body["time_zone"], (*path, "time_zone")) if "time_zone" in body else None
    start = reader.day(body, path, "start", required=True)
    end = reader.day(body, path, "end", required=False)
    if start is not None and end is not None and end <= start:
        reader.fail((*path, "end"), "must be after start")
    members_raw = body.get("members")
    members: list[Member | None] = []
    if not isinstance(members_raw, list) or not members_raw:
        reader.fail((*path, "members"), "required, a list of at least one {name, phone}")
    else:
        members = [
            reader.member(item, (*path, "members", index)) for index, item in enumerate(members_raw)
        ]
    time_zone = zone or default_zone
    if len(reader.problems) > problems_before:
        return None
    assert name and rotation and handoff and weekday is not None and start and time_zone
    return Layer(
        name=name,
        rotation=rotation,
        handoff=handoff,
        time_zone=time_zone,
        start=start,
        members=tuple(member for member in members if member is not None),
        handoff_weekday=weekday,
        end=end,
    )


def _handoff_time(reader: _Reader, value: Any, path: Path) -> time | None:
    if isinstance(value, int) and not isinstance(value, bool):
        # Unquoted 10:00 is a YAML 1.1 base-60 integer (600): minutes since midnight.
        hours, minutes = divmod(value, 60)
        if 0 <= hours < 24:
            return time(hours, minutes)
    elif isinstance(value, str) and (match := _HHMM.match(value)):
        return time(int(match.group(1)), int(match.group(2)))
    reader.fail(path, f"a local time HH:MM, got {value!r}")
    return None


def _override(reader: _Reader, raw: Any, path: Path, layers: set[str]) -> Override | None:
    body = reader.mapping(raw, path, _OVERRIDE_KEYS)
    if body is None:
        return None
    problems_before = len(reader.problems)
    layer = reader.text(body, path, "layer")
    if layer is not None and layer not in layers:
        reader.fail((*path, "layer"), f"no layer named {layer!r} in this schedule")
    starts_at = reader.instant(body, path, "start")
    ends_at = reader.instant(body, path, "end")
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        reader.fail((*path, "end"), "must be after start")
    member = reader.member(body.get("member"), (*path, "member"))
    if len(reader.problems) > problems_before:
        return None
    assert layer and starts_at and ends_at and member
    return Override(layer, member, starts_at, ends_at)
