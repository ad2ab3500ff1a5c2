"""Saving a rule's alerts after an evaluation: only what a restart needs, only when it changed."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace

from controlplane.engine.alerts import Alert, AlertTransition
from controlplane.storage import AlertRepository


def _durable_part(alert: Alert) -> Alert:
    # value and last_evaluated_at change every round; a restart does not need them exact.
    return replace(alert, value=None, last_evaluated_at=None)


class AlertLog:
    """Writes changed alert state and every transition to storage, off the event loop."""

    def __init__(self, repository: AlertRepository) -> None:
        self._repository = repository

    def restore(self, rule_key: str) -> list[Alert]:
        return self._repository.load(rule_key)

    async def save(
        self,
        rule_key: str,
        before: Mapping[str, Alert],
        after: Sequence[Alert],
        transitions: Sequence[AlertTransition],
        annotations: Mapping[str, Mapping[str, str]],
    ) -> None:
        """Persist alerts whose durable state changed, drop vanished ones, log transitions."""
        after_by_key = {alert.fingerprint: alert for alert in after}
        changed = [
            (alert, annotations.get(key, {}))
            for key, alert in after_by_key.items()
            if key not in before or _durable_part(before[key]) != _durable_part(alert)
        ]
        removed = [key for key in before if key not in after_by_key]
        if changed or removed or transitions:
            await asyncio.to_thread(
                self._repository.save, rule_key, changed, removed, list(transitions)
            )


class UnsavedAlertLog(AlertLog):
    """Alerts that live in memory only (`rules test`, tests): nothing restored, nothing saved."""

    def __init__(self) -> None:  # no repository: nothing is stored
        pass

    def restore(self, rule_key: str) -> list[Alert]:
        return []

    async def save(
        self,
        rule_key: str,
        before: Mapping[str, Alert],
        after: Sequence[Alert],
        transitions: Sequence[AlertTransition],
        annotations: Mapping[str, Mapping[str, str]],
    ) -> None:
        return None
