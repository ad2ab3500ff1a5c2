"""A rule's `RuleEvaluationFailing` alert: fires while the rule cannot be evaluated, then resolves.

It has a state machine of its own, so it goes pending, fires, resolves, is saved and is restored
after a restart like any rule alert. It is saved with its rule's alerts and told apart from them
by its fingerprint, which depends only on the rule's group and name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final

from controlplane.engine.alerts.fingerprint import fingerprint
from controlplane.engine.alerts.state import (
    Alert,
    AlertState,
    AlertStateMachine,
    AlertTransition,
    Sample,
    StateTiming,
)

EVALUATION_FAILING: Final = "RuleEvaluationFailing"


class EvaluationFailingAlert:
    """The health alert of one rule; its value is the count of consecutive failed evaluations."""

    def __init__(
        self,
        group: str,
        rule: str,
        *,
        alerts: Iterable[Alert] = (),
        timing: StateTiming | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self.labels = {
            **(labels if labels is not None else {"severity": "critical"}),
            "alertname": EVALUATION_FAILING,
            "rule_group": group,
            "rule": rule,
        }
        self.fingerprint = fingerprint(self.labels)
        own = [alert for alert in alerts if self.owns(alert)]
        self.machine = AlertStateMachine(timing or StateTiming(), own)
        # A restored firing alert goes on counting where it stopped.
        self.consecutive_failures = next(
            (int(a.value or 0) for a in own if a.state is AlertState.FIRING), 0
        )

    def owns(self, alert: Alert) -> bool:
        return alert.fingerprint == self.fingerprint

    @property
    def alerts(self) -> list[Alert]:
        return self.machine.alerts

    def failed(self, at: datetime) -> list[AlertTransition]:
        self.consecutive_failures += 1
        failing = Sample(self.labels, float(self.consecutive_failures), active=True)
        return self.machine.evaluate([failing], at)

    def succeeded(self, at: datetime) -> list[AlertTransition]:
        self.consecutive_failures = 0
        return self.machine.evaluate([], at)
