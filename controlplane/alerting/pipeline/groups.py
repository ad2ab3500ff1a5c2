"""The group/wait stage: alerts gathered per route and group labels, each group on its timer.

A new group waits `group_wait` before its first flush (so alerts that start together go out
together), then flushes every `group_interval`; whether a flush sends anything is the dedup
stage's call (changed state, or `repeat_interval` passed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from controlplane.alerting.pipeline.model import Router, RouteTarget
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
    route: RouteTarget
    labels: dict[str, str]
    next_flush_at: datetime
    alerts: dict[str, GroupedAlert] = field(default_factory=dict)


def group_key(route: RouteTarget, labels: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The group's key and labels: the receiver and route, plus the group_by labels' values."""
    names = sorted(labels) if route.group_by is None else sorted(route.group_by)
    group_labels = {name: labels.get(name, "") for name in names}
    inner = ",".join(f"{name}={value!r}" for name, value in group_labels.items())
    return f"{route.receiver}/{route.route_id}{{{inner}}}", group_labels


class Grouper:
    """Holds the aggregation groups and tells which are due to flush."""

    def __init__(self, router: Router) -> None:
        self._router = router
        self._groups: dict[str, AggregationGroup] = {}

    def add(self, grouped: GroupedAlert, now: datetime) -> None:
        for route in self._router(grouped.alert.labels):
            key, labels = group_key(route, grouped.alert.labels)
            group = self._groups.get(key)
            if group is None:
                # A resolution for a group we no longer hold (after a restart) opens one too:
                # dedup sends it only if the log says the alert was notified firing.
                wait = timedelta(seconds=route.group_wait_s)
                group = self._groups[key] = AggregationGroup(key, route, labels, now + wait)
            group.alerts[grouped.alert.fingerprint] = grouped

    def due(self, now: datetime) -> list[AggregationGroup]:
        return [group for group in self._groups.values() if group.next_flush_at <= now]

    def flushed(self, group: AggregationGroup, now: datetime) -> None:
        group.next_flush_at = now + timedelta(seconds=group.route.group_interval_s)
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

    def __len__(self) -> int:
        return len(self._groups)
