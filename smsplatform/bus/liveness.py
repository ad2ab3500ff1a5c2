"""Whether each bus consumer of a service is alive: its loop running and making progress.

Every consume loop (smsplatform/bus/consume.py) keeps a Liveness record; the service's
LivenessRegistry is what its /healthz and /metrics read. A consumer is `up` while its loop runs
and completes fetches; `stuck` when no fetch and batch has completed for `stuck_after_s` (the bus
keeps failing, or a batch hangs); `stopped` when its loop ended without anyone asking it to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from smsplatform.clock import Clock, system_clock

# Long enough for a slow batch write or a bus reconnect; short enough for a health check to see.
STUCK_AFTER_S: Final = 60.0

State = Literal["up", "stuck", "stopped"]
Stage = Literal["fetch", "handle"]
STAGES: Final[tuple[Stage, ...]] = ("fetch", "handle")


@dataclass(frozen=True)
class ConsumerStatus:
    """One consumer as a health check reports it."""

    name: str
    state: State
    seconds_since_progress: float
    poison_messages: int
    errors: dict[Stage, int]
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "seconds_since_progress": round(self.seconds_since_progress, 3),
            "poison_messages": self.poison_messages,
            "errors": dict(self.errors),
            "last_error": self.last_error,
        }


class Liveness:
    """The live record of one consume loop: written by the loop, read by health and metrics."""

    __slots__ = (
        "_clock",
        "_stuck_after_s",
        "errors",
        "last_error",
        "name",
        "poison_messages",
        "progress_at",
        "stopped",
        "waiting_for_credit",
    )

    def __init__(self, name: str, clock: Clock, stuck_after_s: float) -> None:
        self.name = name
        self._clock = clock
        self._stuck_after_s = stuck_after_s
        self.progress_at = clock.monotonic()
        # Waiting for the handler to free room (the dispatcher's slots) is not being stuck.
        self.waiting_for_credit = False
        self.stopped = False
        self.poison_messages = 0
        self.errors: dict[Stage, int] = dict.fromkeys(STAGES, 0)
        self.last_error: str | None = None

    def progressed(self) -> None:
        self.progress_at = self._clock.monotonic()

    def failed(self, stage: Stage, error: BaseException) -> None:
        self.errors[stage] += 1
        self.last_error = f"{stage}: {error!r}"

    def status(self) -> ConsumerStatus:
        since = max(self._clock.monotonic() - self.progress_at, 0.0)
        state: State = "up"
        if self.stopped:
            state = "stopped"
        elif since > self._stuck_after_s and not self.waiting_for_credit:
            state = "stuck"
        return ConsumerStatus(
            self.name, state, since, self.poison_messages, dict(self.errors), self.last_error
        )


class LivenessRegistry:
    """The consumers of one service, by name; a consumer stopped on purpose leaves it."""

    def __init__(self, clock: Clock = system_clock, stuck_after_s: float = STUCK_AFTER_S) -> None:
        if stuck_after_s <= 0:
            raise ValueError(f"stuck_after_s must be positive, got {stuck_after_s}")
        self._clock = clock
        self._stuck_after_s = stuck_after_s
        self._records: dict[str, Liveness] = {}

    def track(self, name: str) -> Liveness:
        """A fresh record for `name`; it replaces the record of an earlier loop of that name."""
        record = Liveness(name, self._clock, self._stuck_after_s)
        self._records[name] = record
        return record

    def forget(self, record: Liveness) -> None:
        """Drop `record` (its loop was stopped on purpose), unless a newer loop took its name."""
        if self._records.get(record.name) is record:
            del self._records[record.name]

    def statuses(self) -> list[ConsumerStatus]:
        return [self._records[name].status() for name in sorted(self._records)]
