"""On-call schedules: who is on call at an instant, from rotations, stacked layers and overrides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

TARGET_PREFIX = "oncall:"


class Rotation(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


@dataclass(frozen=True)
class Member:
    """A person who can be on call, and the number SMS and voice reach them on."""

    name: str
    phone: str


@dataclass(frozen=True)
class Layer:
    """One rotation: members take turns, handing off at `handoff` local time (weekly: on a weekday).

    The layer begins at `start` (a local date) at the hand-off time and, when `end` is set, stops
    at `end` at the hand-off time; outside that span it has no member and lower layers show through.
    """

    name: str
    rotation: Rotation
    handoff: time
    time_zone: ZoneInfo
    start: date
    members: tuple[Member, ...]
    handoff_weekday: int = 0  # Monday; used by weekly rotations only
    end: date | None = None

    def member_at(self, at: datetime) -> Member | None:
        local = at.astimezone(self.time_zone)
        # The local date whose hand-off began the shift `at` falls in: before today's hand-off it
        # is still yesterday's shift. Comparing wall-clock times keeps hand-offs at 09:00 local
        # across daylight-saving changes.
        shift_day = local.date() if local.time() >= self.handoff else local.date() - _DAY
        if shift_day < self.start or (self.end is not None and shift_day >= self.end):
            return None
        if not self.members:
            return None
        return self.members[self._shift_index(shift_day) % len(self.members)]

    def _shift_index(self, shift_day: date) -> int:
        if self.rotation is Rotation.DAILY:
            return (shift_day - self.start).days
        # Weekly: count the hand-off weekdays after the start up to the shift day.
        last_handoff = shift_day - timedelta(days=(shift_day.weekday() - self.handoff_weekday) % 7)
        ahead = (self.handoff_weekday - self.start.weekday()) % 7 or 7
        first_handoff = self.start + timedelta(days=ahead)
        if last_handoff < first_handoff:
            return 0
        return (last_handoff - first_handoff).days // 7 + 1


@dataclass(frozen=True)
class Override:
    """Someone standing in for a layer's member during [starts_at, ends_at)."""

    layer: str
    member: Member
    starts_at: datetime
    ends_at: datetime

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


@dataclass(frozen=True)
class Schedule:
    """A team's schedule: named layers (later entries of a name override earlier), overrides."""

    name: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(layer.name for layer in self.layers))

    def member_at(self, layer_name: str, at: datetime) -> Member | None:
        """The person on call for `layer_name` at `at`, or None when nobody is."""
        # The latest override wins, as people add a new one to correct an earlier one.
        for override in reversed(self.overrides):
            if override.layer == layer_name and override.covers(at):
                return override.member
        for layer in reversed(self.layers):
            if layer.name == layer_name:
                member = layer.member_at(at)
                if member is not None:
                    return member
        return None


class UnknownTarget(LookupError):
    """An on-call target naming a schedule or layer that does not exist."""


@dataclass(frozen=True)
class OnCall:
    """Every schedule by name; resolves `oncall:<layer>@<schedule>` targets to a person."""

    schedules: Mapping[str, Schedule]

    def resolve(self, target: str, at: datetime) -> Member | None:
        """The member on call for `[oncall:]layer@schedule` at `at`; None when nobody is.

        Raises UnknownTarget for a schedule or layer that is not configured.
        """
        layer_name, schedule = self._lookup(target)
        return schedule.member_at(layer_name, at)

    def check(self, target: str) -> None:
        """Raises UnknownTarget unless `target` names a configured layer of a schedule."""
        self._lookup(target)

    def _lookup(self, target: str) -> tuple[str, Schedule]:
        text = target.removeprefix(TARGET_PREFIX)
        layer_name, at_sign, schedule_name = text.partition("@")
        if not at_sign or not layer_name or not schedule_name:
            raise UnknownTarget(f"{target!r} is not of the form oncall:<layer>@<schedule>")
        schedule = self.schedules.get(schedule_name)
        if schedule is None:
            raise UnknownTarget(f"no on-call schedule named {schedule_name!r}")
        if layer_name not in schedule.layer_names:
            raise UnknownTarget(f"schedule {schedule_name!r} has no layer named {layer_name!r}")
        return layer_name, schedule


def is_oncall_target(target: str) -> bool:
    return target.startswith(TARGET_PREFIX)


def members_of(oncall: OnCall, targets: Sequence[str], at: datetime) -> list[Member]:
    """The people behind `targets` at `at`, skipping targets nobody covers, without repeats."""
    found: dict[str, Member] = {}
    for target in targets:
        member = oncall.resolve(target, at)
        if member is not None:
            found.setdefault(member.phone, member)
    return list(found.values())


_DAY = timedelta(days=1)
