"""Helpers for the alerting pipeline tests: notices, a stage on a real database, channel doubles."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from controlplane.alerting.config import (
    Escalation,
    EscalationStep,
    InhibitRule,
    Route,
    RouteOptions,
)
from controlplane.alerting.escalation import Acknowledgements, EscalationStore, EscalationTracker
from controlplane.alerting.pipeline import AlertingStage, Channel, Escalator, Receiver
from controlplane.engine.alerts import Alert, AlertState, AlertTransition, fingerprint
from controlplane.engine.runtime.sink import AlertNotice
from controlplane.storage import AlertRepository, Database
from notifiers.base import Notification, NotifyResult, Outcome
from notifiers.budget import SlidingWindowBudget
from smsplatform.clock import ManualClock


def notice(labels: Mapping[str, str], state: AlertState, at: datetime) -> AlertNotice:
    previous = AlertState.PENDING if state is AlertState.FIRING else AlertState.FIRING
    alert = Alert(
        fingerprint=fingerprint(labels),
        labels=dict(labels),
        state=state,
        value=1.0,
        active_since=at,
        started_at=at,
        resolved_at=at if state is AlertState.RESOLVED else None,
    )
    return AlertNotice("group/rule", AlertTransition(alert, previous, at), {"summary": "s"})


class RecordingChannel:
    """A channel double: answers with the given outcomes in turn (then delivers), records sends."""

    def __init__(self, channel: str, outcomes: tuple[Outcome, ...] = ()) -> None:
        self._channel = channel
        self._outcomes = list(outcomes)
        self.sent: list[Notification] = []
        self.calls = 0

    @property
    def channel(self) -> str:
        return self._channel

    async def send(self, notification: Notification) -> NotifyResult:
        self.calls += 1
        outcome = self._outcomes.pop(0) if self._outcomes else Outcome.DELIVERED
        if outcome is Outcome.DELIVERED:
            self.sent.append(notification)
        return NotifyResult(outcome, self._channel)

    async def aclose(self) -> None:
        return None


class RateLimitedRobot(RecordingChannel):
    """A DingTalk-like robot double: 20 sends per sliding minute, then 130101 for 10 minutes."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__("dingtalk")
        self._clock = clock
        self._accepted: list[float] = []
        self._blocked_until = -1.0
        self.refused = 0

    async def send(self, notification: Notification) -> NotifyResult:
        now = self._clock.monotonic()
        self._accepted = [t for t in self._accepted if t > now - 60]
        if now < self._blocked_until or len(self._accepted) >= 20:
            self._blocked_until = max(self._blocked_until, now + 600)
            self.refused += 1
            return NotifyResult(Outcome.RETRY, "dingtalk", error_code="130101", retry_after_s=600)
        self._accepted.append(now)
        self.sent.append(notification)
        return NotifyResult(Outcome.DELIVERED, "dingtalk")


class NoSleep:
    """Records the backoff waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def route(
    receiver: str = "team",
    group_by: tuple[str, ...] | None = ("alertname",),
    wait: float = 30,
    interval: float = 300,
    repeat: float = 3600,
    escalation: str | None = None,
) -> Route:
    options = RouteOptions(
        receiver,
        group_by=frozenset(group_by or ()),
        group_by_all=group_by is None,
        group_wait_s=wait,
        group_interval_s=interval,
        repeat_interval_s=repeat,
        escalation=escalation,
    )
    return Route(options)


def make_stage(
    database: Database,
    clock: ManualClock,
    channels: tuple[RecordingChannel, ...],
    target: Route | None = None,
    inhibit: tuple[InhibitRule, ...] = (),
    budget: SlidingWindowBudget | None = None,
    sleep: NoSleep | None = None,
    ack_url: Callable[[str, int], str] | None = None,
    escalator: Escalator | None = None,
) -> AlertingStage:
    chosen = target or route()
    bound = tuple(
        Channel(notifier, budget if index == 0 else None) for index, notifier in enumerate(channels)
    )
    return AlertingStage(
        database=database,
        route=chosen,
        receivers={chosen.receiver: Receiver(chosen.receiver, bound)},
        clock=clock,
        inhibit_rules=inhibit,
        sleep=sleep or NoSleep(),
        ack_url=ack_url,
        escalator=escalator,
    )


def alert_names(notification: Notification) -> list[str]:
    return sorted(a.labels.get("instance", a.labels["alertname"]) for a in notification.alerts)


# Escalating tests: the team hears at once (after group_wait 5 s); the phone is paged after 5 m.
PAGING_ROUTE = Route(
    RouteOptions(
        "team",
        group_by=frozenset({"alertname"}),
        group_wait_s=5,
        group_interval_s=60,
        repeat_interval_s=3600,
        escalation="page",
    )
)
PAGE_AFTER_5M = {"page": Escalation("page", (EscalationStep(300, ("phone",)),))}


def paging_stage(
    database: Database,
    clock: ManualClock,
    phone: RecordingChannel,
    *,
    robot: RecordingChannel | None = None,
    chains: Mapping[str, Escalation] = PAGE_AFTER_5M,
    phone_send_resolved: bool = True,
    replica: str = "local",
) -> AlertingStage:
    """A stage on PAGING_ROUTE: receiver `team` (the robot) and `phone`, paged by `chains`."""
    return AlertingStage(
        database=database,
        route=PAGING_ROUTE,
        receivers={
            "team": Receiver("team", (Channel(robot or RecordingChannel("dingtalk")),)),
            "phone": Receiver("phone", (Channel(phone, send_resolved=phone_send_resolved),)),
        },
        clock=clock,
        escalator=escalator_on(database, clock, chains),
        sleep=NoSleep(),
        replica=replica,
    )


def escalator_on(
    database: Database, clock: ManualClock, chains: Mapping[str, Escalation] = PAGE_AFTER_5M
) -> Escalator:
    store = EscalationStore(database)
    acks = Acknowledgements(store, AlertRepository(database), clock)
    return Escalator(EscalationTracker(store, dict(chains), clock), acks)


async def run_for(clock: ManualClock, seconds: int, *stages: AlertingStage) -> None:
    """Move time on second by second, ticking each stage as its scheduler would."""
    for _ in range(seconds):
        clock.advance(1)
        for stage in stages:
            await stage.tick()
