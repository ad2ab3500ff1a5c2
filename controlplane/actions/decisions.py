"""What a cut-over round decides: route changes with their words and evidence, and fail-statics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from controlplane.actions.sequential import Mark
from smsplatform.contracts import MessageClass, Route

Action = Literal["cutover", "canary", "promote", "restore", "eject_canary"]


@dataclass(frozen=True)
class Cause:
    """Why a supplier should leave a route: a health finding or a firing rule, in words."""

    text: str  # "delivery 61% over 2m, 1,240 receipts"
    changed_by: str  # "health-model", "rule:<group>/<alert>"
    evidence: Mapping[str, object]


@dataclass(frozen=True)
class RouteDecision:
    """One change of one route."""

    action: Action
    route: Route  # the route as it is after the change
    supplier: str
    summary: str  # "cut over A→B on carrier X for class otp: delivery 61% over 2m, 1,240 receipts"
    changed_by: str
    evidence: Mapping[str, object]

    @property
    def carrier(self) -> str:
        return self.route.carrier

    @property
    def message_class(self) -> MessageClass:
        return self.route.message_class


@dataclass(frozen=True)
class FailStatic:
    """A supplier that should leave a route but may not: the route is left as it is."""

    carrier: str
    message_class: MessageClass
    supplier: str
    summary: str
    evidence: Mapping[str, object]


@dataclass(frozen=True)
class Round:
    """The outcome of one decision round."""

    decisions: list[RouteDecision] = field(default_factory=list)
    fail_static: list[FailStatic] = field(default_factory=list)


@dataclass
class Ejection:
    """A supplier automation took out of a route, and where its way back stands."""

    ejected_at: datetime
    cause: Cause
    step: int = -1  # -1: ejected (cooling down); else the index of its canary share
    step_started_at: datetime | None = None
    mark: Mark | None = None  # where the shared canary evidence stood when the step began


def duration_text(seconds: float) -> str:
    """A span as notifications say it: "45s", "2m", "1m30s"."""
    whole = max(0, round(seconds))
    minutes, rest = divmod(whole, 60)
    if minutes and rest:
        return f"{minutes}m{rest}s"
    return f"{minutes}m" if minutes else f"{rest}s"
