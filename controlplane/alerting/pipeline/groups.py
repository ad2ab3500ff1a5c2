"""The group/wait stage: alerts gathered per route and group labels, each group on its timer.

A new group waits `group_wait` before its first flush (so alerts that start together go out
together), then flushes every `group_interval`; whether a flush sends anything is the dedup
stage's call (changed state, or `repeat_interval` passed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from controlplane.alerting.config import Route
from controlplane.engine.alerts import Alert, AlertState


@dataclass(frozen=True)
class GroupedAlert:
    rule_key: str
    alert: Alert
    annotations: Mapping[str, str]

    @property
    def is_firing(self) -> bool:
        return self.alert.state is AlertState.FIRING


@dataclass
class AggregationGroup:
    key: str
    route: Route
    labels: dict[str, str]
    next_flush_at: datetime
    alerts: dict[str, GroupedAlert] = field(default_factory=dict)


class Grouper:
    """Holds the aggregation groups and tells which are due to flush."""

    def __init__(self, root: Route) -> None:
        self._root = root
        self._groups: dict[str, AggregationGroup] = {}

    def add(self, grouped: GroupedAlert, now: datetime) -> None:
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
            group.alerts[grouped.alert.fingerprint] = grouped

    def due(self, now: datetime) -> list[AggregationGroup]:
        return [group for group in self._groups.values() if group.next_flush_at <= now]

    def flushed(self, group: AggregationGroup, now: datetime) -> None:
        group.next_flush_at = now + timedelta(seconds=group.route.options.group_interval_s)
        if not group.alerts:
            self._groups.pop(group.key, None)

    def firing_labels(self) -> list[Mapping[str, str]]:
        """The labels of every firing alert, once each: the sources inhibit rules look at."""
        seen: dict[str, Mapping[str, str]] = {}
        for group in self._groups.values():
            for fingerprint, grouped in group.alerts.items():
                if grouped.is_firing:
                    seen[fingerprint] = grouped.alert.labels
        return list(seen.values())

    def get(self, key: str) -> AggregationGroup | None:
        return self._groups.get(key)

    def __len__(self) -> int:
        return len(self._groups)
