"""Which degradation policy should be in force now: an operator's, a scheduled peak's, or automatic.

Pure: fed readings and the time. An operator's level holds, exactly, until it ends or is
cleared. Otherwise the highest of three wins: a scheduled peak's level until its window ends,
the level a firing rule's `degrade` action asks for until its alert resolves, and the level
the readings call for through hysteresis and minimum dwell (on a tie, in that order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controlplane.actions.degradation_levels import (
    RANK,
    AutomaticDegradation,
    AutomaticStep,
    configured_triggers,
)
from controlplane.actions.degradation_schedule import PeakCalendar, ScheduledPeak
from controlplane.settings import DegradationSettings
from smsplatform.contracts import DegradationLevel, DegradationPolicy

AUTOMATIC = "auto"
SCHEDULE_PREFIX = "schedule:"
RULE_PREFIX = "rule:"
OPERATOR_PREFIX = "operator:"


@dataclass(frozen=True)
class ManualDegradation:
    """A level an operator set: it holds until `until` or until cleared."""

    level: DegradationLevel
    sample_ratio: float
    until: datetime
    reason: str
    operator: str


@dataclass(frozen=True)
class RuleDemand:
    """A level a firing rule's `degrade` action asks for, while its alert fires."""

    level: DegradationLevel
    sample_ratio: float | None
    rule_key: str
    summary: str


@dataclass(frozen=True)
class PolicyTarget:
    """The policy that should be in force, and who or what wants it."""

    level: DegradationLevel
    sample_ratio: float
    until: datetime | None
    changed_by: str
    reason: str
    evidence: Mapping[str, Any]

    def differs_from(self, policy: DegradationPolicy | None) -> bool:
        """True when publishing this would change what the send tier does (or who owns it)."""
        if policy is None:
            return self.level != "normal"
        return (self.level, self.sample_ratio, self.until) != (
            policy.level,
            policy.sample_ratio,
            policy.until,
        )


def ratio_for(level: DegradationLevel, wanted: float | None, default: float) -> float:
    """The sample ratio a policy carries: only `sample` samples; other levels say 1."""
    if level != "sample":
        return 1.0
    return wanted if wanted is not None else default


class DegradationController:
    """Holds the operator's level and the automatic state between evaluations."""

    def __init__(self, settings: DegradationSettings) -> None:
        self.automatic = AutomaticDegradation(
            configured_triggers(settings.triggers),
            min_dwell_up_s=settings.min_dwell_up_s,
            min_dwell_down_s=settings.min_dwell_down_s,
        )
        self.calendar = PeakCalendar(settings.schedules)
        self.default_ratio = settings.sample_ratio
        self.manual: ManualDegradation | None = None
        # Firing alerts' demands, by alert fingerprint.
        self.rule_demands: dict[str, RuleDemand] = {}

    def decide(self, now: datetime, readings: Mapping[str, float | None]) -> PolicyTarget:
        """The policy for now; automatic state moves on even while an override holds."""
        step = self.automatic.step(now, readings)
        evidence: dict[str, Any] = {
            "readings": dict(readings),
            "votes": [
                {"trigger": v.trigger, "value": v.value, "level": v.level, "why": v.why}
                for v in step.votes
            ],
            "automatic_level": step.level,
        }
        if self.manual is not None and now >= self.manual.until:
            self.manual = None
        if self.manual is not None:
            manual = self.manual
            return PolicyTarget(
                manual.level,
                ratio_for(manual.level, manual.sample_ratio, self.default_ratio),
                manual.until,
                OPERATOR_PREFIX + manual.operator,
                manual.reason,
                evidence,
            )
        candidates = []
        peak = self.calendar.active(now)
        if peak is not None:
            candidates.append(_scheduled(peak, self.default_ratio, evidence))
        if self.rule_demands:
            demand = max(self.rule_demands.values(), key=lambda d: RANK[d.level])
            candidates.append(_ruled(demand, self.default_ratio, evidence))
        candidates.append(_automatic(step, self.default_ratio, evidence))
        # max keeps the first of equals: schedule, then rule, then readings.
        return max(candidates, key=lambda target: RANK[target.level])


def _scheduled(peak: ScheduledPeak, default_ratio: float, evidence: dict[str, Any]) -> PolicyTarget:
    evidence["schedule"] = {
        "name": peak.name,
        "starts_at": peak.starts_at.isoformat(),
        "ends_at": peak.ends_at.isoformat(),
    }
    return PolicyTarget(
        peak.level,
        ratio_for(peak.level, peak.sample_ratio, default_ratio),
        peak.ends_at,
        SCHEDULE_PREFIX + peak.name,
        peak.reason,
        evidence,
    )


def _ruled(demand: RuleDemand, default_ratio: float, evidence: dict[str, Any]) -> PolicyTarget:
    evidence["rule"] = {"rule": demand.rule_key, "summary": demand.summary}
    return PolicyTarget(
        demand.level,
        ratio_for(demand.level, demand.sample_ratio, default_ratio),
        None,
        RULE_PREFIX + demand.rule_key,
        f"rule {demand.rule_key} firing: {demand.summary}",
        evidence,
    )


def _automatic(step: AutomaticStep, default_ratio: float, evidence: dict[str, Any]) -> PolicyTarget:
    reason = step.reason or "no degradation trigger configured"
    return PolicyTarget(
        step.level, ratio_for(step.level, None, default_ratio), None, AUTOMATIC, reason, evidence
    )
