"""Known peaks: crontab schedules (APScheduler's CronTrigger) that degrade for a stretch of time.

Pure: `active(now)` answers which peak's window holds `now`, from the triggers' own arithmetic
and the injected time, so a test can walk a festival night with a ManualClock. The service asks
it a few times a second (an APScheduler job) and evaluates the moment a window opens or closes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from controlplane.actions.degradation_levels import RANK
from controlplane.settings import DegradationSchedule, DegradedLevel


@dataclass(frozen=True)
class ScheduledPeak:
    """One window of one schedule: its level from `starts_at` until `ends_at`."""

    name: str
    level: DegradedLevel
    sample_ratio: float | None
    starts_at: datetime
    ends_at: datetime
    reason: str


class PeakCalendar:
    """The configured schedules, each with its cron trigger."""

    def __init__(self, schedules: Sequence[DegradationSchedule]) -> None:
        self.entries = [
            (schedule, CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone))
            for schedule in schedules
        ]

    def active(self, now: datetime) -> ScheduledPeak | None:
        """The highest-level peak whose window holds `now`, if any."""
        found: ScheduledPeak | None = None
        for schedule, trigger in self.entries:
            duration = timedelta(seconds=schedule.duration_s)
            # The first start after now - duration opens the only window that can hold now.
            start = trigger.get_next_fire_time(None, now - duration)
            if start is None or not start <= now < start + duration:
                continue
            peak = ScheduledPeak(
                name=schedule.name,
                level=schedule.level,
                sample_ratio=schedule.sample_ratio,
                starts_at=start.astimezone(UTC),
                ends_at=(start + duration).astimezone(UTC),
                reason=schedule.reason or f"scheduled peak {schedule.name}",
            )
            if found is None or RANK[peak.level] > RANK[found.level]:
                found = peak
        return found
