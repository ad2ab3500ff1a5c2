"""Reading what the system did, and the checks every scenario makes on it.

Messages: read from the rows persistence stored, compared with the ids the API accepted.
Alerts: the control plane's API. Notifications: the webhook fake's inbox.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from system_world import RunningSystem

from controlplane.storage import Database


@dataclass(frozen=True)
class StoredOutcome:
    """What the database holds, per message id."""

    messages: set[str]
    accepted_submits: dict[str, list[tuple[str, int]]]  # id → [(supplier, attempt)]
    accepted_at: dict[str, datetime]  # id → when a supplier accepted it
    failed_submits: dict[str, list[tuple[str, int, str | None]]]  # id → [(supplier, attempt,
    # error code)]
    receipts: dict[str, list[tuple[str, str]]]  # id → [(supplier, status)]
    duplicate_attempts: int  # (message, attempt) pairs stored more than once

    def taken_by(self, message_id: str) -> str:
        """The supplier that accepted the message (the only one: checked separately)."""
        return self.accepted_submits[message_id][0][0]


def read_outcome(database: Database) -> StoredOutcome:
    with database.engine.connect() as connection:
        messages = {row.id for row in connection.execute(text("SELECT id FROM messages"))}
        accepted: dict[str, list[tuple[str, int]]] = {}
        accepted_at: dict[str, datetime] = {}
        failed: dict[str, list[tuple[str, int, str | None]]] = {}
        for row in connection.execute(
            text(
                "SELECT message_id, supplier, attempt, accepted, error_code, at FROM submit_results"
            )
        ):
            if row.accepted:
                accepted.setdefault(row.message_id, []).append((row.supplier, row.attempt))
                accepted_at[row.message_id] = _utc(row.at)
            else:
                failed.setdefault(row.message_id, []).append(
                    (row.supplier, row.attempt, row.error_code)
                )
        receipts: dict[str, list[tuple[str, str]]] = {}
        for row in connection.execute(text("SELECT message_id, supplier, status FROM receipts")):
            receipts.setdefault(row.message_id, []).append((row.supplier, row.status))
        duplicates = connection.execute(
            text(
                "SELECT COUNT(*) FROM (SELECT message_id, attempt FROM submit_results "
                "GROUP BY message_id, attempt HAVING COUNT(*) > 1) AS twice"
            )
        ).scalar_one()
    return StoredOutcome(messages, accepted, accepted_at, failed, receipts, int(duplicates))


def _utc(value: datetime | str) -> datetime:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def count_stored_and_submitted(database: Database, message_ids: set[str]) -> int:
    """How many of these messages have both their messages row and an accepted submit stored.

    The two are written by separate consumers (sms.submit and sms.submitted), so either may
    land first."""
    with database.engine.connect() as connection:
        taken = {
            row.message_id
            for row in connection.execute(
                text(
                    "SELECT DISTINCT s.message_id FROM submit_results s "
                    "JOIN messages m ON m.id = s.message_id WHERE s.accepted = 1"
                )
            )
        }
    return len(taken & message_ids)


async def wait_for(
    condition: Callable[[], Awaitable[bool]], timeout_s: float, what: str, poll_s: float = 0.1
) -> float:
    """Wait until `condition()` holds; returns the seconds it took, fails naming `what`."""
    started = time.monotonic()
    while not await condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(poll_s)
    return time.monotonic() - started


async def wait_until_all_submitted(
    system: RunningSystem, accepted: Mapping[str, Any], timeout_s: float = 60.0
) -> None:
    """Every accepted message is stored, has been taken by a supplier, and that is stored."""
    ids = set(accepted)
    database = system.services.database

    async def done() -> bool:
        return await asyncio.to_thread(count_stored_and_submitted, database, ids) == len(ids)

    await wait_for(done, timeout_s, f"all {len(ids)} accepted messages stored and submitted")


def assert_no_message_lost_or_sent_twice(
    outcome: StoredOutcome, accepted: Mapping[str, Any]
) -> None:
    """Every accepted message is stored, was taken by exactly one supplier exactly once, and
    each failed attempt was followed by another supplier's (under the same message id)."""
    ids = set(accepted)
    missing = ids - outcome.messages
    assert not missing, f"{len(missing)} accepted messages were never stored"
    never_taken = ids - set(outcome.accepted_submits)
    assert not never_taken, f"{len(never_taken)} accepted messages were never submitted"
    taken_twice = {m: s for m, s in outcome.accepted_submits.items() if m in ids and len(s) > 1}
    assert not taken_twice, f"{len(taken_twice)} messages were sent twice: {taken_twice}"
    assert outcome.duplicate_attempts == 0
    for message_id, failures in outcome.failed_submits.items():
        if message_id not in ids:
            continue
        [(supplier, attempt)] = outcome.accepted_submits[message_id]
        failed_on = {failed_supplier for failed_supplier, _, _ in failures}
        assert supplier not in failed_on, f"{message_id} retried on {supplier}, which failed it"
        assert attempt == max(a for _, a, _ in failures) + 1
    reported_twice = {m: r for m, r in outcome.receipts.items() if len(r) > 1}
    assert not reported_twice, f"receipts stored twice: {reported_twice}"


def taken_by_supplier(
    outcome: StoredOutcome, accepted: Mapping[str, tuple[str, str]], carrier: str | None = None
) -> Counter[str]:
    """How many accepted messages (to `carrier`, or to any) each supplier took."""
    return Counter(
        outcome.taken_by(message_id)
        for message_id, (to_carrier, _) in accepted.items()
        if carrier is None or to_carrier == carrier
    )


async def firing_alerts(system: RunningSystem, alertname: str) -> list[dict[str, Any]]:
    answer = await system.http.get(
        "/v1/alerts", params={"state": "firing", "label": f"alertname={alertname}"}
    )
    assert answer.status_code == 200, answer.text
    alerts: list[dict[str, Any]] = answer.json()["alerts"]
    return alerts


def notified_alerts(system: RunningSystem, status: str = "firing") -> list[dict[str, Any]]:
    """Every alert the webhook receiver was told about with this status, oldest first."""
    return [
        alert
        for body in system.notifications.inbox.bodies()
        for alert in body.get("alerts", [])
        if alert.get("status") == status
    ]


def notified(system: RunningSystem, **labels: str) -> list[dict[str, Any]]:
    """Firing alerts notified whose labels include these."""
    return [
        alert
        for alert in notified_alerts(system)
        if all(alert["labels"].get(name) == value for name, value in labels.items())
    ]


async def wait_for_notified(
    system: RunningSystem, timeout_s: float = 10.0, **labels: str
) -> list[dict[str, Any]]:
    """Firing alerts notified with these labels, once there is one (the stage ticks each second)."""

    async def arrived() -> bool:
        return bool(notified(system, **labels))

    await wait_for(arrived, timeout_s, f"a notification with {labels}")
    return notified(system, **labels)
