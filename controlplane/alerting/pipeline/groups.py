"""The group/wait stage: alerts gathered per route and group labels, each group on its timer.

A new group waits `group_wait` before its first flush (so alerts that start together go out
together), then flushes every `group_interval`; whether a flush sends anything is the dedup
stage's call (changed state, or `repeat_interval` passed).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from controlplane.alerting.config import Route
from controlplane.engine.alerts import Alert, AlertState


@dataclass(frozen=True)
class GroupedAlert:
    rule_key: str
    alert: Alert
    annotations: Mapping[str, str]
    generator_url: str = ""
    # A posted alert fires until then unless posted again (Alertmanager's endsAt); rule alerts
    # resolve through the engine and carry None.
    expires_at: datetime | None = None

    @property
    def is_firing(self) -> bool:
        return self.alert.state is AlertState.FIRING

    def expired(self) -> GroupedAlert:
        """This alert resolved at its expiry time."""
        resolved = replace(self.alert, state=AlertState.RESOLVED, resolved_at=self.expires_at)
        return replace(self, alert=resolved, expires_at=None)


@dataclass
class AggregationGroup:
    key: str
    route: Route
    labels: dict[str, str]
    next_flush_at: datetime
    alerts: dict[str, GroupedAlert] = field(default_factory=dict)
    flushes: int = 0  # flushes taken so far


class Grouper:
    """Holds the aggregation groups and tells which are due to flush."""

    def __init__(self, root: Route) -> None:
        self._root = root
        self._groups: dict[str, AggregationGroup] = {}
        # (expires_at, group key, fingerprint) of posted alerts; stale entries are skipped.
        self._expiries: list[tuple[datetime, str, str]] = []

    def add(self, grouped: GroupedAlert, now: datetime) -> list[AggregationGroup]:
        """Put the alert into its group on each route it reaches; returns the groups it opened."""
        opened: list[AggregationGroup] = []
        for route in self._root.match(grouped.alert.labels):
            # Alertmanager's group key: the route node's path, then the group labels.
            key = route.group_key(grouped.alert.labels)
            labels = route.group_labels(grouped.alert.labels)
            group = self._groups.get(key)
            if group is None:
                # A resolution for a group we no longer hold (after a restart) opens one too:
                # dedup sends it only if the log says the alert was notified firing.
                wait = timedelta(seconds=route.options.group_wait_s)
                group = self._groups[key] = AggregationGroup(key, route, labels, now + wait)
                opened.append(group)
            group.alerts[grouped.alert.fingerprint] = grouped
            if grouped.expires_at is not None:
                entry = (grouped.expires_at, key, grouped.alert.fingerprint)
                heapq.heappush(self._expiries, entry)
        return opened

    def expire(self, now: datetime) -> list[GroupedAlert]:
        """Resolve the posted alerts whose end time has passed without a re-post; returns them."""
        resolved: list[GroupedAlert] = []
        while self._expiries and self._expiries[0][0] <= now:
            expires_at, key, alert_fingerprint = heapq.heappop(self._expiries)
            group = self._groups.get(key)
            grouped = group.alerts.get(alert_fingerprint) if group is not None else None
            if group is not None and grouped is not None and grouped.expires_at == expires_at:
                group.alerts[alert_fingerprint] = grouped.expired()
                resolved.append(group.alerts[alert_fingerprint])
        return resolved

    def seconds_until_due(self, now: datetime) -> float | None:
        """How long until the next group is due to flush (0 if one is); None without groups."""
        if not self._groups:
            return None
        earliest = min(group.next_flush_at for group in self._groups.values())
        return max(0.0, (earliest - now).total_seconds())

    def take_due(self, now: datetime) -> list[AggregationGroup]:
        """The groups due to flush now, each already rescheduled a group_interval on.

        Rescheduled at once, so a tick that starts while this flush still sends (ticks overlap,
        as Alertmanager's per-group timers do) does not take the same groups again.
        """
        due = [group for group in self._groups.values() if group.next_flush_at <= now]
        for group in due:
            group.next_flush_at = now + timedelta(seconds=group.route.options.group_interval_s)
            group.flushes += 1
        return due

    def forget_if_empty(self, group: AggregationGroup) -> None:
        if not group.alerts:
            self._groups.pop(group.key, None)

    def firing(self) -> list[GroupedAlert]:
        """Every firing alert, once each (an alert on several routes sits in several groups)."""
        seen: dict[str, GroupedAlert] = {}
        for group in self._groups.values():
            for fingerprint, grouped in group.alerts.items():
                if grouped.is_firing:
                    seen[fingerprint] = grouped
        return list(seen.values())

    def firing_labels(self) -> list[Mapping[str, str]]:
        """The labels of every firing alert, once each: the sources inhibit rules look at."""
        return [grouped.alert.labels for grouped in self.firing()]

    def get(self, key: str) -> AggregationGroup | None:
        return self._groups.get(key)

    def __len__(self) -> int:
        return len(self._groups)
