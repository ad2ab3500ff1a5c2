"""Automatic degradation levels from readings: hysteresis per trigger, minimum dwell per change.

Pure: fed readings and the time, it answers the level. A reading enters a level when it reaches
that level's `enter` threshold and leaves it only once below its `exit` threshold, so a reading
hovering around one threshold does not flap; the highest level any trigger asks for wins, and a
change waits until the current level has been held for its minimum dwell.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from controlplane.settings import (
    DEGRADED_LEVELS,
    DegradationTrigger,
    DegradationTriggers,
    DegradedLevel,
    LevelThresholds,
)
from smsplatform.contracts import DegradationLevel

log = logging.getLogger(__name__)

LEVELS: Final[tuple[DegradationLevel, ...]] = (
    "normal",
    "sample",
    "shed_marketing",
    "shed_notification",
)
RANK: Final[dict[DegradationLevel, int]] = {level: rank for rank, level in enumerate(LEVELS)}


def number_text(value: float) -> str:
    """A reading for people: `3,400` for counts and rates, `0.25` for seconds."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def configured_triggers(triggers: DegradationTriggers) -> dict[str, DegradationTrigger]:
    """The triggers set in config, by name (ingest_rate, bus_lag, persist_latency)."""
    return {
        name: trigger
        for name in ("ingest_rate", "bus_lag", "persist_latency")
        if (trigger := getattr(triggers, name)) is not None
    }


def higher(first: DegradationLevel, second: DegradationLevel) -> DegradationLevel:
    return first if RANK[first] >= RANK[second] else second


@dataclass(frozen=True)
class Vote:
    """What one trigger's reading asks for, and why, in words for people."""

    trigger: str
    value: float | None
    level: DegradationLevel
    why: str


def vote(
    trigger: str,
    current: DegradationLevel,
    value: float | None,
    thresholds: Mapping[DegradedLevel, LevelThresholds],
) -> Vote:
    """The level one reading asks for when `current` is in force."""
    if value is None:
        # No reading (source down): hold rather than guess in either direction.
        return Vote(trigger, None, current, f"{trigger}: no reading, holding {current}")
    levels = [level for level in DEGRADED_LEVELS if level in thresholds]
    entered = [level for level in levels if value >= thresholds[level].enter]
    if entered and RANK[entered[-1]] > RANK[current]:
        up = entered[-1]
        enter_at = thresholds[up].enter
        return Vote(
            trigger,
            value,
            up,
            f"{trigger} {number_text(value)} ≥ {up} enter {number_text(enter_at)}",
        )
    held = [lv for lv in levels if RANK[lv] <= RANK[current] and value >= thresholds[lv].exit]
    level: DegradationLevel = held[-1] if held else "normal"
    if level == current:
        return Vote(trigger, value, level, f"{trigger} {number_text(value)} holds {level}")
    below = [lv for lv in levels if RANK[level] < RANK[lv] <= RANK[current]]
    if not below:  # this trigger has no threshold at or under the current level
        return Vote(trigger, value, level, f"{trigger} {number_text(value)} asks for {level}")
    exit_at = thresholds[below[0]].exit
    return Vote(
        trigger,
        value,
        level,
        f"{trigger} {number_text(value)} < {below[0]} exit {number_text(exit_at)}",
    )


@dataclass(frozen=True)
class AutomaticStep:
    """The automatic level after one evaluation, and the votes that made it."""

    level: DegradationLevel
    changed: bool
    votes: tuple[Vote, ...]

    @property
    def reason(self) -> str:
        deciding = [v.why for v in self.votes if v.level == self.level] or [
            v.why for v in self.votes
        ]
        return "; ".join(deciding)


class AutomaticDegradation:
    """The level readings call for, remembered between evaluations (hysteresis needs it)."""

    def __init__(
        self,
        triggers: Mapping[str, DegradationTrigger],
        *,
        min_dwell_up_s: float,
        min_dwell_down_s: float,
    ) -> None:
        self._triggers = dict(triggers)
        self._dwell_up = timedelta(seconds=min_dwell_up_s)
        self._dwell_down = timedelta(seconds=min_dwell_down_s)
        self.level: DegradationLevel = "normal"
        self.since: datetime | None = None

    def restore(self, level: DegradationLevel, since: datetime) -> None:
        """Carry on from a stored automatic level (after a restart)."""
        self.level = level
        self.since = since

    def step(self, now: datetime, readings: Mapping[str, float | None]) -> AutomaticStep:
        votes = tuple(
            vote(name, self.level, readings.get(name), trigger.levels)
            for name, trigger in self._triggers.items()
        )
        wanted: DegradationLevel = "normal"
        for each in votes:
            wanted = higher(wanted, each.level)
        if not votes or wanted == self.level:
            return AutomaticStep(self.level, False, votes)
        dwell = self._dwell_up if RANK[wanted] > RANK[self.level] else self._dwell_down
        if self.since is not None and now - self.since < dwell:
            log.debug(
                "degradation.dwell level=%s wanted=%s since=%s", self.level, wanted, self.since
            )
            return AutomaticStep(self.level, False, votes)
        self.level = wanted
        self.since = now
        return AutomaticStep(wanted, True, votes)
