"""Tells people of each degradation level change, through the alerting stage rules use.

A change is a synthetic `DegradationLevelChanged` alert (labels: level, previous_level,
degradation_version, severity) whose summary names the level, who or what set it, the reason
and the readings. It fires once and resolves at the next change or after `hold_s`, so a
receiver's repeat interval does not announce it forever.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from controlplane.actions.degradation_levels import number_text
from controlplane.actions.degradation_store import DegradationVersion
from controlplane.engine.runtime.sink import AlertNotice, AlertSink, action_notice
from smsplatform.contracts import DegradationLevel

log = logging.getLogger(__name__)

LEVEL_CHANGED: Final = "DegradationLevelChanged"
SEVERITY: Final[dict[DegradationLevel, str]] = {
    "normal": "info",
    "sample": "warning",
    "shed_marketing": "warning",
    "shed_notification": "critical",
}


def readings_text(readings: Mapping[str, Any]) -> str:
    """`ingest_rate=3,400, bus_lag=120` (unreadable ones as `?`)."""
    return ", ".join(
        f"{name}={number_text(value)}" if isinstance(value, int | float) else f"{name}=?"
        for name, value in readings.items()
    )


def change_summary(version: DegradationVersion, previous: DegradationLevel) -> str:
    """One line for people: what changed, by whom, why, on which readings."""
    policy = version.policy
    level: str = policy.level
    if level == "sample":
        level = f"sample (ratio {policy.sample_ratio:g})"
    text = f"status-report degradation {previous} → {level} by {version.changed_by}"
    if policy.until is not None:
        text += f" until {policy.until.isoformat(timespec='minutes')}"
    text += f": {policy.reason}"
    readings = readings_text(version.evidence.get("readings", {}))
    return f"{text} (readings: {readings})" if readings else text


class LevelChangeAnnouncer:
    """Fires one notice per level change and resolves the one before it."""

    def __init__(self, sink: AlertSink, hold_s: float) -> None:
        self._sink = sink
        self._hold = timedelta(seconds=hold_s)
        self._last: tuple[dict[str, str], str, datetime] | None = None

    async def announce(self, version: DegradationVersion, previous: DegradationLevel) -> None:
        policy = version.policy
        notices = self._resolve_last(policy.at)
        labels = {
            "alertname": LEVEL_CHANGED,
            "level": policy.level,
            "previous_level": previous,
            "degradation_version": str(policy.version),
            "severity": SEVERITY[policy.level],
        }
        summary = change_summary(version, previous)
        notices.append(action_notice(labels, summary, policy.at))
        self._last = (labels, summary, policy.at)
        log.warning("event=degradation_level_changed version=%d %s", policy.version, summary)
        await self._sink.deliver(notices)

    async def expire(self, now: datetime) -> None:
        """Resolve the last change's notice once it has been announced for `hold_s`."""
        if self._last is not None and now - self._last[2] >= self._hold:
            await self._sink.deliver(self._resolve_last(now))

    def _resolve_last(self, now: datetime) -> list[AlertNotice]:
        if self._last is None:
            return []
        labels, summary, since = self._last
        self._last = None
        return [action_notice(labels, summary, now, firing=False, started_at=since)]
