"""Tells people what automation did to the routes, through the same alerting stage rules use.

Each route change is a synthetic `RouteChanged` alert (labels: action, supplier, carrier,
message_class, routing_version) whose summary names it: "cut over A→B on carrier X for class
otp: delivery 61% over 2m, 1,240 receipts". It fires once and resolves after `hold_s`, so a
receiver's repeat interval does not announce it forever. A route that should change but may not
("fail static") is a `RouteFailStatic` alert, firing for as long as that lasts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from controlplane.actions.decisions import FailStatic, RouteDecision
from controlplane.engine.runtime.sink import AlertNotice, AlertSink, action_notice

log = logging.getLogger(__name__)

ROUTE_CHANGED: Final = "RouteChanged"
ROUTE_FAIL_STATIC: Final = "RouteFailStatic"
_SEVERITY: Final = {"cutover": "warning", "eject_canary": "warning"}


@dataclass(frozen=True)
class _Announced:
    labels: Mapping[str, str]
    summary: str
    since: datetime


class ActionAnnouncer:
    """Sends the notices of route changes and fail-statics, and resolves them in time."""

    def __init__(self, sink: AlertSink, hold_s: float) -> None:
        self._sink = sink
        self._hold = timedelta(seconds=hold_s)
        self._changes: dict[tuple[str, ...], _Announced] = {}
        self._fail_static: dict[tuple[str, str, str], _Announced] = {}

    async def announce(
        self,
        decisions: Sequence[RouteDecision],
        version: int,
        fail_static: Sequence[FailStatic],
        now: datetime,
    ) -> None:
        """Fire the notices of this round's decisions; fire and resolve fail-statics as they go."""
        notices: list[AlertNotice] = []
        for decision in decisions:
            labels = {
                "alertname": ROUTE_CHANGED,
                "action": decision.action,
                "supplier": decision.supplier,
                "carrier": decision.carrier,
                "message_class": decision.message_class,
                "routing_version": str(version),
                "severity": _SEVERITY.get(decision.action, "info"),
            }
            self._changes[tuple(labels.values())] = _Announced(labels, decision.summary, now)
            notices.append(action_notice(labels, decision.summary, now))
            log.warning(
                "event=route_changed action=%s version=%d summary=%r",
                decision.action,
                version,
                decision.summary,
            )
        notices += self._fail_static_notices(fail_static, now)
        notices += self._expired(now)
        if notices:
            await self._sink.deliver(notices)

    def _fail_static_notices(
        self, current: Sequence[FailStatic], now: datetime
    ) -> list[AlertNotice]:
        notices = []
        seen = set()
        for held in current:
            key = (held.carrier, held.message_class, held.supplier)
            seen.add(key)
            if key in self._fail_static:
                continue
            labels = {
                "alertname": ROUTE_FAIL_STATIC,
                "supplier": held.supplier,
                "carrier": held.carrier,
                "message_class": held.message_class,
                "severity": "critical",
            }
            self._fail_static[key] = _Announced(labels, held.summary, now)
            notices.append(action_notice(labels, held.summary, now))
            log.error("event=route_fail_static summary=%r", held.summary)
        for ended in [k for k in self._fail_static if k not in seen]:
            gone = self._fail_static.pop(ended)
            notices.append(
                action_notice(gone.labels, gone.summary, now, firing=False, started_at=gone.since)
            )
        return notices

    def _expired(self, now: datetime) -> list[AlertNotice]:
        due = [key for key, item in self._changes.items() if now - item.since >= self._hold]
        notices = []
        for key in due:
            item = self._changes.pop(key)
            notices.append(
                action_notice(item.labels, item.summary, now, firing=False, started_at=item.since)
            )
        return notices
