"""The escalate stage: a group whose route names a chain escalates until acked or resolved."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from controlplane.alerting.escalation import Acknowledgements, DueStep, EscalationTracker
from controlplane.alerting.pipeline.groups import AggregationGroup, GroupedAlert
from notifiers.voice import out_id

log = logging.getLogger(__name__)


class Escalator:
    """Starts and stops a group's episode from what the pipeline sent; yields the due steps."""

    def __init__(self, tracker: EscalationTracker, acknowledgements: Acknowledgements) -> None:
        self._tracker = tracker
        self._acks = acknowledgements

    def notified(self, group: AggregationGroup, firing: Sequence[GroupedAlert]) -> None:
        """The group's firing notification went out: its chain (if any) starts or goes on."""
        chain = group.route.options.escalation
        if chain is None or not firing:
            return
        # The group's earliest start names the episode, so a rerun after a restart joins it.
        started_at = min(g.alert.started_at or g.alert.active_since for g in firing)
        self._tracker.start(group.key, chain, [g.alert.fingerprint for g in firing], started_at)

    def settled(self, group: AggregationGroup, at: datetime) -> None:
        """No alert of the group fires any more: its escalation stops."""
        if group.route.options.escalation is not None:
            self._tracker.resolve(group.key, at)

    def due(self, now: datetime) -> list[DueStep]:
        return self._tracker.due(now)

    def call_placed(self, group_key: str, call_id: str | None, at: datetime) -> None:
        """Remember a voice call's ids, so a key press during it acks this group."""
        self._acks.remember_call(out_id(group_key), group_key, at)
        if call_id:
            self._acks.remember_call(call_id, group_key, at)
