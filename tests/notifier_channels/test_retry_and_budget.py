"""send_with_retry's backoff under a manual clock (no real sleeps), and the endpoint budget."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import pytest
from notifier_samples import notification

from notifiers.base import Notification, NotifyResult, Outcome
from notifiers.budget import EndpointBudgets, SlidingWindowBudget
from notifiers.retry import send_with_retry
from smsplatform.clock import ManualClock


@dataclass
class ScriptedNotifier:
    """A channel answering from a script: stands in for a service's sequence of answers."""

    answers: deque[NotifyResult]
    sent: list[Notification] = field(default_factory=list)

    @property
    def channel(self) -> str:
        return "scripted"

    async def send(self, notification: Notification) -> NotifyResult:
        self.sent.append(notification)
        return self.answers.popleft()

    async def aclose(self) -> None:
        return None


def busy() -> NotifyResult:
    return NotifyResult(Outcome.RETRY, "scripted", "system busy", "-1")


def rate_limited() -> NotifyResult:
    return NotifyResult(Outcome.RETRY, "scripted", "send too fast", "130101", 60.0)


def ok() -> NotifyResult:
    return NotifyResult(Outcome.DELIVERED, "scripted", "ok")


class Sleeper:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)


async def retry(
    answers: list[NotifyResult], attempts: int, jitter: float = 1.0
) -> tuple[NotifyResult, Sleeper, ScriptedNotifier]:
    clock = ManualClock()
    sleeper = Sleeper(clock)
    notifier = ScriptedNotifier(deque(answers))
    result = await send_with_retry(
        notifier,
        notification(),
        attempts=attempts,
        base_delay_s=1.0,
        max_delay_s=4.0,
        sleep=sleeper,
        clock=clock,
        jitter=lambda: jitter,
    )
    return result, sleeper, notifier


async def test_busy_answers_back_off_exponentially_up_to_the_cap() -> None:
    result, sleeper, notifier = await retry([busy(), busy(), busy(), busy(), ok()], attempts=5)
    assert result.outcome is Outcome.DELIVERED
    assert sleeper.waits == [1.0, 2.0, 4.0, 4.0]
    assert len(notifier.sent) == 5


async def test_jitter_spreads_each_wait_between_half_and_all_of_it() -> None:
    _, low, _ = await retry([busy(), busy(), ok()], attempts=3, jitter=0.0)
    assert low.waits == [0.5, 1.0]


async def test_rate_limit_waits_at_least_retry_after_and_doubles_it() -> None:
    result, sleeper, _ = await retry([rate_limited(), rate_limited(), ok()], attempts=3)
    assert result.outcome is Outcome.DELIVERED
    assert sleeper.waits == [60.0, 120.0]
    assert sleeper.clock.monotonic() == 180.0


async def test_rate_limit_is_returned_as_retry_when_attempts_run_out() -> None:
    result, sleeper, notifier = await retry([rate_limited()] * 3, attempts=3)
    assert (result.outcome, result.error_code) == (Outcome.RETRY, "130101")
    assert len(notifier.sent) == 3 and len(sleeper.waits) == 2


async def test_a_final_failure_is_not_retried() -> None:
    failed = NotifyResult(Outcome.FAILED, "scripted", "sign not match", "310000")
    result, sleeper, notifier = await retry([failed, ok()], attempts=3)
    assert result.outcome is Outcome.FAILED
    assert sleeper.waits == [] and len(notifier.sent) == 1


def test_budget_allows_twenty_per_sliding_minute() -> None:
    clock = ManualClock()
    budget = SlidingWindowBudget(20, 60.0, clock)
    taken = []
    for _ in range(25):
        taken.append(budget.take())
        clock.advance(1)
    assert taken == [True] * 20 + [False] * 5
    # 25 s in; the first send (at 0 s) leaves the window at 60 s.
    assert budget.available() == 0
    assert budget.wait_time() == pytest.approx(35.0)
    clock.advance(35)
    assert budget.available() == 1 and budget.wait_time() == 0.0
    assert budget.take() and not budget.take()


def test_budget_accepts_explicit_instants() -> None:
    budget = SlidingWindowBudget(2, 10.0, ManualClock())
    assert budget.take(100.0) and budget.take(101.0) and not budget.take(105.0)
    assert budget.wait_time(105.0) == pytest.approx(5.0)
    assert budget.available(110.0) == 1


def test_each_endpoint_has_its_own_budget() -> None:
    budgets = EndpointBudgets(limit=1, window_s=60.0, clock=ManualClock())
    assert budgets.for_endpoint("robot-a").take()
    assert budgets.for_endpoint("robot-b").take()
    assert not budgets.for_endpoint("robot-a").take()
    assert budgets.for_endpoint("robot-a") is budgets.for_endpoint("robot-a")
