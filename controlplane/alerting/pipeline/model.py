"""What the pipeline is configured with: routes, inhibit rules, receivers and their channels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from controlplane.alerting.pipeline.matchers import Matcher
from notifiers.base import Notifier


@dataclass(frozen=True)
class RouteTarget:
    """Where a matched alert goes and how its group is timed (a leaf of the routing tree)."""

    receiver: str
    group_by: tuple[str, ...] | None = ()  # None groups by all labels (Alertmanager's "...")
    group_wait_s: float = 30.0
    group_interval_s: float = 300.0
    repeat_interval_s: float = 4 * 3600.0
    route_id: str = ""  # tells apart two routes to the same receiver


class Router(Protocol):
    """The routing tree: the routes an alert with these labels reaches."""

    def __call__(self, labels: Mapping[str, str]) -> Sequence[RouteTarget]: ...


@dataclass(frozen=True)
class InhibitRule:
    """While an alert matching `source` fires, alerts matching `target` with equal `equal` labels
    are muted."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()


class Budget(Protocol):
    """A client-side send budget of one endpoint (e.g. DingTalk: 20 sends per 60 s)."""

    @property
    def capacity(self) -> int: ...

    @property
    def window_s(self) -> float: ...

    def remaining(self, now: float) -> int: ...

    def spend(self, now: float) -> None: ...


@dataclass(frozen=True)
class Channel:
    """One endpoint of a receiver, with its budget when the service limits its rate."""

    notifier: Notifier
    budget: Budget | None = None
    name: str = ""  # for logs and the log row; defaults to the notifier's channel


@dataclass(frozen=True)
class Receiver:
    """A named receiver: its channels in fallback order."""

    name: str
    channels: tuple[Channel, ...]
    send_resolved: bool = True
