"""Alert state and history in storage: saved after each evaluation, reloaded at start."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, Table, delete, select

from controlplane.engine.alerts import Alert, AlertState, AlertTransition
from controlplane.storage.alert_models import AlertHistoryRow, AlertRow
from smsplatform.database.engine import Database

ALERTS: Table = AlertRow.__table__  # type: ignore[assignment]
HISTORY: Table = AlertHistoryRow.__table__  # type: ignore[assignment]
# Alerts per statement when a batch is saved (keeps IN lists and packets small).
CHUNK = 500


@dataclass(frozen=True)
class StoredAlert:
    """An alert as the API shows it: its rule, state, labels and annotations."""

    rule_key: str
    alert: Alert
    annotations: Mapping[str, str]


@dataclass(frozen=True)
class AlertEvent:
    """One line of an alert's history."""

    at: datetime
    kind: str
    from_state: str | None
    to_state: str | None
    value: float | None
    detail: Mapping[str, Any]


class AlertRepository:
    """Saves the alerts of each rule after an evaluation, and gives them back after a restart."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def save(
        self,
        rule_key: str,
        changed: Sequence[tuple[Alert, Mapping[str, str]]],
        removed: Sequence[str],
        transitions: Sequence[AlertTransition],
    ) -> None:
        """In one transaction: upsert changed alerts, delete removed ones, append transitions."""
        with self._database.engine.begin() as connection:
            if removed:
                connection.execute(delete(ALERTS).where(ALERTS.c.fingerprint.in_(removed)))
            if changed:
                keys = [alert.fingerprint for alert, _ in changed]
                connection.execute(delete(ALERTS).where(ALERTS.c.fingerprint.in_(keys)))
                connection.execute(
                    ALERTS.insert(),
                    [_row(rule_key, alert, annotations) for alert, annotations in changed],
                )
            if transitions:
                connection.execute(HISTORY.insert(), [_transition_row(t) for t in transitions])

    def save_received(self, alerts: Sequence[StoredAlert]) -> None:
        """Upsert alerts received from outside (posted to the alerts API) and, in the same
        transaction, add a state line to the history of each one new or changed."""
        with self._database.engine.begin() as connection:
            for start in range(0, len(alerts), CHUNK):
                chunk = alerts[start : start + CHUNK]
                keys = [item.alert.fingerprint for item in chunk]
                known = dict(
                    connection.execute(
                        select(ALERTS.c.fingerprint, ALERTS.c.state).where(
                            ALERTS.c.fingerprint.in_(keys)
                        )
                    ).all()
                )
                connection.execute(delete(ALERTS).where(ALERTS.c.fingerprint.in_(keys)))
                connection.execute(
                    ALERTS.insert(),
                    [_row(item.rule_key, item.alert, item.annotations) for item in chunk],
                )
                changes = [
                    _state_change(item.alert, known.get(item.alert.fingerprint))
                    for item in chunk
                    if known.get(item.alert.fingerprint) != item.alert.state.value
                ]
                if changes:
                    connection.execute(HISTORY.insert(), changes)

    def load(self, rule_key: str) -> list[Alert]:
        with self._database.engine.connect() as connection:
            rows = connection.execute(select(ALERTS).where(ALERTS.c.rule_key == rule_key))
            return [_alert(row._mapping) for row in rows]

    def all(self, state: AlertState | None = None) -> list[StoredAlert]:
        statement = select(ALERTS)
        if state is not None:
            statement = statement.where(ALERTS.c.state == state.value)
        with self._database.engine.connect() as connection:
            rows = connection.execute(statement.order_by(ALERTS.c.active_since))
            return [_stored(row._mapping) for row in rows]

    def get(self, fingerprint: str) -> StoredAlert | None:
        with self._database.engine.connect() as connection:
            row = connection.execute(
                select(ALERTS).where(ALERTS.c.fingerprint == fingerprint)
            ).first()
        return None if row is None else _stored(row._mapping)

    def record(self, fingerprint: str, at: datetime, kind: str, detail: Mapping[str, Any]) -> None:
        """Add a non-state event to an alert's history (a notification, an ack, a silence)."""
        self.record_many([(fingerprint, at, kind, detail)])

    def record_many(self, events: Sequence[tuple[str, datetime, str, Mapping[str, Any]]]) -> None:
        """Add (fingerprint, at, kind, detail) events in one statement: a flush's notifications."""
        if not events:
            return
        rows = [
            {
                "fingerprint": fingerprint,
                "at": at,
                "kind": kind,
                "from_state": None,
                "to_state": None,
                "value": None,
                "detail": dict(detail),
            }
            for fingerprint, at, kind, detail in events
        ]
        with self._database.engine.begin() as connection:
            connection.execute(HISTORY.insert(), rows)

    def history(self, fingerprint: str) -> list[AlertEvent]:
        statement = (
            select(HISTORY)
            .where(HISTORY.c.fingerprint == fingerprint)
            .order_by(HISTORY.c.at, HISTORY.c.id)
        )
        with self._database.engine.connect() as connection:
            return [
                AlertEvent(r.at, r.kind, r.from_state, r.to_state, r.value, r.detail)
                for r in connection.execute(statement)
            ]


def _row(rule_key: str, alert: Alert, annotations: Mapping[str, str]) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "rule_key": rule_key,
        "labels": dict(alert.labels),
        "annotations": dict(annotations),
        "state": alert.state.value,
        "value": alert.value,
        "active_since": alert.active_since,
        "started_at": alert.started_at,
        "resolved_at": alert.resolved_at,
        "keep_firing_since": alert.keep_firing_since,
        "last_evaluated_at": alert.last_evaluated_at,
    }


def _transition_row(transition: AlertTransition) -> dict[str, Any]:
    return {
        "fingerprint": transition.alert.fingerprint,
        "at": transition.at,
        "kind": "state",
        "from_state": transition.previous.value,
        "to_state": transition.current.value,
        "value": transition.alert.value,
        "detail": {"labels": dict(transition.alert.labels)},
    }


def _state_change(alert: Alert, previous: str | None) -> dict[str, Any]:
    """The history line of a received alert that is new (`previous` None) or changed state."""
    return {
        "fingerprint": alert.fingerprint,
        "at": alert.resolved_at or alert.active_since,
        "kind": "state",
        "from_state": previous,
        "to_state": alert.state.value,
        "value": alert.value,
        "detail": {"labels": dict(alert.labels)},
    }


def _alert(row: RowMapping) -> Alert:
    return Alert(
        fingerprint=row["fingerprint"],
        labels=row["labels"],
        state=AlertState(row["state"]),
        value=row["value"],
        active_since=row["active_since"],
        started_at=row["started_at"],
        resolved_at=row["resolved_at"],
        keep_firing_since=row["keep_firing_since"],
        last_evaluated_at=row["last_evaluated_at"],
    )


def _stored(row: RowMapping) -> StoredAlert:
    return StoredAlert(row["rule_key"], _alert(row), row["annotations"])
