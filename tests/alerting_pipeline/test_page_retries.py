"""Failed escalation pages: paged again after a doubling wait, superseded by the chain's next
step to the same receiver, dropped once the group resolves, and sent once by two replicas; a
page left claimed by a process that died is paged by the next one."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from pipeline_helpers import RecordingChannel, notice, paging_stage, run_for
from pydantic import ValidationError

from controlplane.alerting.config import Escalation, EscalationStep
from controlplane.alerting.pipeline.page_retry import PageRetry
from controlplane.engine.alerts import AlertState
from controlplane.settings import Settings
from controlplane.storage import CONTROL_PLANE_HISTORY, Database
from notifiers.base import Notification, NotifyResult, Outcome
from smsplatform.clock import ManualClock

FIRING = AlertState.FIRING
RESOLVED = AlertState.RESOLVED
LABELS = {"alertname": "SupplierDown", "instance": "a"}
# The phone is paged after 5 minutes, and again 30 seconds later (before any retry is due).
CHAINS = {
    "page": Escalation("page", (EscalationStep(300, ("phone",)), EscalationStep(330, ("phone",))))
}


@pytest.fixture
def database(database_url: str) -> Database:
    db = Database(database_url)
    db.upgrade(CONTROL_PLANE_HISTORY)
    return db


def test_the_wait_before_paging_again_doubles_up_to_its_cap() -> None:
    waits = [PageRetry().delay(failures).total_seconds() for failures in range(1, 6)]
    assert waits == [60, 120, 240, 300, 300]


def test_a_page_retry_cap_below_its_first_wait_is_refused_in_the_settings() -> None:
    with pytest.raises(ValidationError, match="page_retry_max_s"):
        Settings.model_validate({"alerting": {"page_retry_s": 600, "page_retry_max_s": 300}})
    assert Settings().alerting.page_retry_s == 60 and Settings().alerting.page_retry_max_s == 300


async def test_a_later_step_paging_the_same_receiver_supersedes_the_pending_retry(
    database: Database,
) -> None:
    clock = ManualClock()
    phone = RecordingChannel("voice", (Outcome.FAILED,))
    stage = paging_stage(database, clock, phone, chains=CHAINS)
    await stage.deliver([notice(LABELS, FIRING, clock.now())])
    await run_for(clock, 301, stage)
    assert phone.calls == 1 and phone.sent == []  # the 5 m page failed

    await run_for(clock, 30, stage)  # the 5.5 m step pages the phone before the retry is due
    assert len(phone.sent) == 1
    await run_for(clock, 600, stage)
    assert len(phone.sent) == 1 and phone.calls == 2


async def test_a_failed_page_is_not_paged_again_once_the_group_resolves(
    database: Database,
) -> None:
    clock = ManualClock()
    phone = RecordingChannel("voice", (Outcome.FAILED,))
    stage = paging_stage(database, clock, phone)
    await stage.deliver([notice(LABELS, FIRING, clock.now())])
    await run_for(clock, 301, stage)
    await stage.deliver([notice(LABELS, RESOLVED, clock.now())])
    await run_for(clock, 600, stage)
    assert phone.calls == 1 and phone.sent == []


async def test_two_replicas_send_a_failed_page_again_once(database: Database) -> None:
    clock = ManualClock()
    phone = RecordingChannel("voice", (Outcome.FAILED,))  # one voice service behind both
    first = paging_stage(database, clock, phone, replica="a")
    second = paging_stage(database, clock, phone, replica="b")
    for stage in (first, second):
        await stage.deliver([notice(LABELS, FIRING, clock.now())])
    await run_for(clock, 301, first, second)
    assert phone.calls == 1  # the step was claimed by one of them, and failed

    await run_for(clock, 60, first, second)
    assert phone.calls == 2 and len(phone.sent) == 1
    await run_for(clock, 600, first, second)
    assert len(phone.sent) == 1


class HangingPhone(RecordingChannel):
    """A voice service that never answers: the process placing the call dies while it waits."""

    def __init__(self) -> None:
        super().__init__("voice")
        self.reached = asyncio.Event()
        self.sent_as: list[str] = []

    async def send(self, notification: Notification) -> NotifyResult:
        self.calls += 1
        self.sent_as.append(notification.notification_id)
        self.reached.set()
        await asyncio.Event().wait()
        raise AssertionError("never answered")


async def test_a_page_claimed_by_a_process_that_died_is_paged_once_by_the_next(
    database: Database,
) -> None:
    clock = ManualClock()
    hanging = HangingPhone()
    dead = paging_stage(database, clock, hanging, replica="a")
    await dead.deliver([notice(LABELS, FIRING, clock.now())])
    await run_for(clock, 299, dead)
    clock.advance(1)  # the 5 m step: claimed in the log, then the process dies mid-call
    tick = asyncio.create_task(dead.tick())
    await hanging.reached.wait()
    tick.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await tick

    phone = RecordingChannel("voice")
    replicas = [paging_stage(database, clock, phone, replica=name) for name in ("b", "c")]
    for stage in replicas:
        await stage.deliver([notice(LABELS, FIRING, clock.now())])  # the engine re-delivers
    await run_for(clock, 299, *replicas)
    assert phone.calls == 0  # a claim this young may still be sending: not paged twice
    await run_for(clock, 1, *replicas)
    assert len(phone.sent) == 1  # abandoned: paged again, by one of them
    # As the same message: a channel that deduplicates (an alert SMS' Idempotency-Key) sends
    # nothing more if the dead process's page did go out.
    assert [n.notification_id for n in phone.sent] == hanging.sent_as
    await run_for(clock, 900, *replicas)
    assert phone.calls == 1
