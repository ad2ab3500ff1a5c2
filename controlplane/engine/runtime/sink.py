"""The hand-off from the rule engine to the alerting stage: one interface, one notice per change."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from controlplane.engine.alerts import AlertState, AlertTransition
from controlplane.engine.rules.model import RuleAction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertNotice:
    """An alert that changed state, with what alerting needs to route and word it."""

    rule_key: str  # "<group>/<alert name>"
    transition: AlertTransition
    annotations: Mapping[str, str]
    actions: tuple[RuleAction, ...] = ()

    @property
    def is_firing(self) -> bool:
        return self.transition.current is AlertState.FIRING

    @property
    def is_resolved(self) -> bool:
        return self.transition.current is AlertState.RESOLVED


class AlertSink(Protocol):
    """Where firing and resolved alerts go (the alerting stage)."""

    async def deliver(self, notices: Sequence[AlertNotice]) -> None: ...


class LoggingAlertSink:
    """Logs firing and resolved alerts; the alerting stage (routing, notifiers) replaces it."""

    async def deliver(self, notices: Sequence[AlertNotice]) -> None:
        for notice in notices:
            if not (notice.is_firing or notice.is_resolved):
                continue
            alert = notice.transition.alert
            log.warning(
                "alert %s rule=%s fingerprint=%s labels=%s value=%s summary=%s",
                notice.transition.current.value,
                notice.rule_key,
                alert.fingerprint,
                ",".join(f"{k}={v}" for k, v in sorted(alert.labels.items())),
                alert.value,
                notice.annotations.get("summary", ""),
            )
