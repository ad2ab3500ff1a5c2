"""Redialling unanswered voice calls: which calls ended unanswered, and when to call again.

The book is in memory: a restart forgets pending redials (the chain's next step still pages),
which costs less than a table for a retry that is at most minutes away. Due redials are taken
out of the book in one locked step, so two ticks never dial the same redial twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from notifiers.voice import CALLEE_LIMITS, FINAL_STATUS

log = logging.getLogger(__name__)

# Final codes of a call that never reached a person: busy, no answer, unreachable, out of
# coverage, powered off, or a carrier/network/system error before it rang through.
# "Hung up early" (200001) and "key-press timeout" (200008) are not among them: the callee
# answered and heard that something is paging; calling again would only nag them and spend
# the per-callee quota (5 an hour) that the chain's next step may need. Permanent failures
# (invalid number, suspended, audio format) would fail the same way again.
UNANSWERED: Final = frozenset(
    {"200002", "200003", "200005", "200007", "200010", "400", "500", "999999"}
)
# How long a final receipt's call id is remembered, to drop the duplicates Dyvms pushes
# (its retries come after 1, 5 and 10 minutes).
DUPLICATE_MEMORY: Final = timedelta(minutes=30)
LONGEST_LIMIT_WINDOW: Final = timedelta(seconds=max(window for _, window in CALLEE_LIMITS))

# What became of an ended call: redial `scheduled`, `gave_up` after the last attempt, or none
# because it was `answered`, the group is `not_escalating` (acked, resolved), or the call was
# placed by another process (`unknown_call`) whose receiver we do not know.
RedialDecision = Literal["scheduled", "gave_up", "answered", "not_escalating", "unknown_call"]


@dataclass(frozen=True)
class RedialPolicy:
    """Calls to one callee per escalation step, the first included; and the gap between them."""

    attempts: int = 3
    min_gap_s: float = CALLEE_LIMITS[0][1]  # the per-callee limit: one call a minute

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.min_gap_s < CALLEE_LIMITS[0][1]:
            raise ValueError("redial policy: attempts >= 1 and min_gap_s >= 60")


@dataclass(frozen=True)
class CallEnded:
    """A call's final receipt (Dyvms VoiceReport)."""

    call_id: str
    out_id: str
    callee: str
    status_code: str
    status_msg: str = ""

    @property
    def meaning(self) -> str:
        return FINAL_STATUS.get(self.status_code, self.status_msg or "unknown status")


@dataclass(frozen=True)
class Redial:
    """Call `callees` of `receiver` again for the group: attempt number `attempt`."""

    group_key: str
    receiver: str
    callees: tuple[str, ...]
    attempt: int
    due_at: datetime

    def recipients(self, _targets: Sequence[str]) -> tuple[str, ...]:
        """The same callees, whoever is on call now: it is the same call placed again."""
        return self.callees


@dataclass(frozen=True)
class CallOutcome:
    """What an ended call meant and what the book did about it."""

    attempt: int | None  # None: the call was not placed by this process
    decision: RedialDecision
    redial_at: datetime | None = None


@dataclass(frozen=True)
class _Placed:
    group_key: str
    receiver: str
    attempt: int
    placed_at: datetime


class RedialBook:
    """Calls placed (by call id), attempts per callee, and the redials waiting for their time.

    Called from the receipt callback (in a worker thread) and from the stage's tick: locked.
    """

    def __init__(self, policy: RedialPolicy | None = None) -> None:
        self.policy = policy or RedialPolicy()
        self._placed: dict[str, _Placed] = {}
        self._ended: dict[str, datetime] = {}  # call id -> when its final receipt came
        self._attempts_by_callee: dict[str, list[datetime]] = {}
        self._pending: list[Redial] = []
        self._lock = threading.Lock()

    def placed(
        self, call_ids: Iterable[str], group_key: str, receiver: str, attempt: int, at: datetime
    ) -> None:
        """Calls were placed for the group through `receiver` (attempt 1 unless a redial)."""
        with self._lock:
            # A call whose final receipt never came is forgotten once no limit window holds it.
            forget_before = at - LONGEST_LIMIT_WINDOW
            self._placed = {i: p for i, p in self._placed.items() if p.placed_at > forget_before}
            for call_id in call_ids:
                self._placed[call_id] = _Placed(group_key, receiver, attempt, at)

    def ended(self, call: CallEnded, escalating: bool, now: datetime) -> CallOutcome | None:
        """Note a final receipt; schedule a redial if unanswered. None: a duplicate receipt."""
        with self._lock:
            self._ended = {i: at for i, at in self._ended.items() if at > now - DUPLICATE_MEMORY}
            if call.call_id in self._ended:
                return None
            self._ended[call.call_id] = now
            placed = self._placed.pop(call.call_id, None)
            if placed is None:
                return CallOutcome(None, "unknown_call")
            attempts = self._attempts_by_callee.setdefault(call.callee, [])
            attempts[:] = [t for t in attempts if t > now - LONGEST_LIMIT_WINDOW]
            attempts.append(placed.placed_at)
            attempts.sort()
            if call.status_code not in UNANSWERED:
                return CallOutcome(placed.attempt, "answered")
            if not escalating:
                return CallOutcome(placed.attempt, "not_escalating")
            if placed.attempt >= self.policy.attempts:
                log.warning(
                    "voice.redial_gave_up group_key=%s receiver=%s callee=%s attempts=%d code=%s",
                    placed.group_key,
                    placed.receiver,
                    call.callee,
                    placed.attempt,
                    call.status_code,
                )
                return CallOutcome(placed.attempt, "gave_up")
            earliest = max(now, placed.placed_at + timedelta(seconds=self.policy.min_gap_s))
            due_at = next_call_allowed(attempts, earliest)
            redial = Redial(
                placed.group_key, placed.receiver, (call.callee,), placed.attempt + 1, due_at
            )
            self._pending.append(redial)
            log.info(
                "voice.redial_scheduled group_key=%s receiver=%s callee=%s attempt=%d due_at=%s "
                "reason=%s",
                redial.group_key,
                redial.receiver,
                call.callee,
                redial.attempt,
                due_at.isoformat(),
                call.meaning.replace(" ", "_"),
            )
            return CallOutcome(placed.attempt, "scheduled", due_at)

    def take_due(
        self, now: datetime, ready: Collection[str], escalating: Collection[str]
    ) -> list[Redial]:
        """The redials due now for groups in `ready`, taken out of the book (so dialled once).

        A redial of a group no longer `escalating` (acked, resolved, silenced) is dropped; one
        of an escalating group that is not ready (muted) waits.
        """
        with self._lock:
            due: dict[tuple[str, str], Redial] = {}
            waiting: list[Redial] = []
            for redial in self._pending:
                if redial.group_key not in escalating:
                    log.info(
                        "voice.redial_dropped group_key=%s callees=%s reason=not_escalating",
                        redial.group_key,
                        ",".join(redial.callees),
                    )
                elif redial.due_at > now or redial.group_key not in ready:
                    waiting.append(redial)
                else:
                    # Callees of one receiver unanswered in the same call go out in one send.
                    key = (redial.group_key, redial.receiver)
                    known = due.get(key)
                    due[key] = redial if known is None else _merged(known, redial)
            self._pending = waiting
            return list(due.values())


def next_call_allowed(attempts: Sequence[datetime], earliest: datetime) -> datetime:
    """The first instant from `earliest` at which every per-callee window has room again.

    `attempts` are the callee's earlier calls, oldest first: a window of `n` calls in `w`
    seconds has room once the n-th latest attempt is `w` seconds old.
    """
    allowed = earliest
    for calls, window_s in CALLEE_LIMITS:
        if len(attempts) >= calls:
            allowed = max(allowed, attempts[-calls] + timedelta(seconds=window_s))
    return allowed


def _merged(first: Redial, second: Redial) -> Redial:
    callees = tuple(dict.fromkeys(first.callees + second.callees))
    return Redial(
        first.group_key,
        first.receiver,
        callees,
        max(first.attempt, second.attempt),
        max(first.due_at, second.due_at),
    )
