"""The hand-off from the rule engine to the alerting stage: one interface, one notice per change.

Besides the engine's own notices, the control plane's automatic actions (cut-over, degradation)
tell people what they did through the same sink, as synthetic alerts built by `action_notice`,
so they are routed, silenced, grouped and escalated exactly like rule alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from controlplane.engine.alerts import Alert, AlertState, AlertTransition
from controlplane.engine.alerts.fingerprint import fingerprint
from controlplane.engine.rules.model import ActionKind, RuleAction

log = logging.getLogger(__name__)

# The rule group synthetic alerts of automatic actions belong to ("actions/RouteChanged").
ACTIONS_GROUP: Final = "actions"


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

    @property
    def began_firing(self) -> bool:
        """It fires now and did not before: the moment a rule's actions run."""
        return self.is_firing and self.transition.previous is not AlertState.FIRING


class AlertSink(Protocol):
    """Where firing and resolved alerts go (the alerting stage)."""

    async def deliver(self, notices: Sequence[AlertNotice]) -> None: ...


class ActionHandler(Protocol):
    """Carries out one kind of rule action (cut-over, degradation) for an alert."""

    async def handle(self, notice: AlertNotice, action: RuleAction) -> None:
        """Called when the alert begins firing, when it resolves, and once after a restart
        for an alert restored firing (`ActingAlertSink.resume`)."""
        ...


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


class ActingAlertSink:
    """Passes every notice on to alerting, then runs the rule actions of those that changed.

    A handler that fails is logged and never keeps the notices from alerting, nor the other
    actions from running. Kinds with no handler registered are logged once per notice.
    """

    def __init__(self, downstream: AlertSink) -> None:
        self.downstream = downstream
        self._handlers: dict[ActionKind, ActionHandler] = {}

    def register(self, kind: ActionKind, handler: ActionHandler) -> None:
        self._handlers[kind] = handler

    async def deliver(self, notices: Sequence[AlertNotice]) -> None:
        await self.downstream.deliver(notices)
        await self._act([n for n in notices if n.began_firing or n.is_resolved])

    async def resume(self, notices: Sequence[AlertNotice]) -> None:
        """Run again the actions of alerts that were firing before a restart.

        Actions live in memory (a cut-over's hold on failback, a degradation floor), and a
        restored firing alert makes no transition, so without this they would be forgotten.
        Alerting is not told again: it restores its own state.
        """
        await self._act([n for n in notices if n.is_firing])

    async def _act(self, notices: Sequence[AlertNotice]) -> None:
        for notice in notices:
            for action in notice.actions:
                handler = self._handlers.get(action.kind)
                if handler is None:
                    log.warning(
                        "event=rule_action_unhandled rule=%s kind=%s", notice.rule_key, action.kind
                    )
                    continue
                try:
                    await handler.handle(notice, action)
                except Exception:
                    log.exception(
                        "event=rule_action_failed rule=%s kind=%s fingerprint=%s",
                        notice.rule_key,
                        action.kind,
                        notice.transition.alert.fingerprint,
                    )


def action_notice(
    labels: Mapping[str, str],
    summary: str,
    at: datetime,
    *,
    firing: bool = True,
    started_at: datetime | None = None,
    value: float | None = None,
) -> AlertNotice:
    """A synthetic alert telling of an automatic action; `labels` must hold `alertname`.

    Firing notices announce the action; a resolved one (same labels) ends it, so a channel's
    repeat interval does not announce it again forever.
    """
    state = AlertState.FIRING if firing else AlertState.RESOLVED
    alert = Alert(
        fingerprint=fingerprint(labels),
        labels=dict(labels),
        state=state,
        value=value,
        active_since=started_at or at,
        started_at=started_at or at,
        resolved_at=None if firing else at,
        last_evaluated_at=at,
    )
    previous = AlertState.INACTIVE if firing else AlertState.FIRING
    return AlertNotice(
        f"{ACTIONS_GROUP}/{labels['alertname']}",
        AlertTransition(alert, previous, at),
        # The summary heads a one-alert message; the description words each alert of a group.
        {"summary": summary, "description": summary},
    )
