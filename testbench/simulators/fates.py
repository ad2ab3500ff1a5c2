"""What happens to an accepted message: its delivery outcome, raw code, and the reports it gets.

Outcomes come from the plan's per-carrier weights (or a magic number, or an async failure);
reports are scheduled after the receipt delay, then lost, reordered or doubled as planned.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from testbench.simulators.plan import Distribution, FaultPlan, MagicOutcome, Outcome
from testbench.simulators.profile import DialectProfile
from testbench.simulators.receipts import ReceiptQueue
from testbench.simulators.records import Counters, ReceiptEvent, Submission
from testbench.simulators.sampling import Sampler


class FatePlanner:
    """Gives each accepted message its outcome and schedules its reports on the queue."""

    def __init__(
        self,
        profile: DialectProfile,
        sampler: Sampler,
        counters: Counters,
        queue: ReceiptQueue,
    ) -> None:
        self._profile = profile
        self._sampler = sampler
        self._counters = counters
        self._queue = queue

    def plan(
        self,
        submission: Submission,
        plan: FaultPlan,
        callback_url: str | None,
        magic: MagicOutcome | None,
        forced: tuple[Outcome, str] | None,
    ) -> None:
        """Set the submission's outcome, code and final time, and schedule its reports.

        `forced` is an async failure (outcome, code) decided at submit; `magic` a test number's
        promised fate, which is never lost, reordered or doubled.
        """
        receipts = plan.receipts
        delay_plan = receipts.delay_for(submission.carrier)
        if forced is not None:
            submission.outcome, submission.raw_code = forced
            submission.async_status = "failed"
            delay = self._sampler.delay_s(delay_plan)
        elif magic is not None:
            outcome = None if magic.outcome == "NONE" else magic.outcome
            submission.outcome = outcome
            default = self._profile.outcome_codes[outcome][0] if outcome else ""
            submission.raw_code = magic.code or default
            delay = magic.delay_ms / 1000.0
        else:
            shares = plan.delivery.for_carrier(submission.carrier).shares()
            outcome, share = self._sampler.weighted([(item, item[1].weight) for item in shares])
            submission.outcome = outcome
            submission.raw_code = self._sampler.pick(
                share.codes or self._profile.outcome_codes[outcome]
            )
            expired = outcome == "EXPIRED"
            delay = receipts.validity_s if expired else self._sampler.delay_s(delay_plan)
        submission.final_at = submission.submitted_at + timedelta(seconds=delay)
        self._schedule(submission, plan, callback_url, delay, delay_plan, chancy=magic is None)

    def _schedule(
        self,
        submission: Submission,
        plan: FaultPlan,
        callback_url: str | None,
        delay: float,
        delay_plan: Distribution,
        *,
        chancy: bool,
    ) -> None:
        steps = self._profile.receipt_steps(submission)
        if not steps:
            return
        url = submission.attempt.callback_url or callback_url
        if url is None and not self._profile.has_pull:
            self._counters.receipts_unroutable += len(steps)
            return
        receipts = plan.receipts
        if chancy and self._sampler.chance(receipts.loss_rate):
            self._counters.receipts_lost += len(steps)
            return
        events = []
        for step in steps:
            at = submission.submitted_at + timedelta(seconds=delay * step.at)
            events.append(ReceiptEvent(submission, step.label, step.final, at, at, url))
        if chancy and self._sampler.chance(receipts.reorder_rate):
            self._reorder(events, delay_plan)
        if chancy and self._sampler.chance(receipts.duplicate_rate):
            events.append(replace(events[-1]))
            self._counters.receipts_duplicated += 1
        for event in events:
            self._queue.schedule(event)
        self._counters.receipts_scheduled += len(events)

    def _reorder(self, events: list[ReceiptEvent], delay_plan: Distribution) -> None:
        """Make this message's reports arrive out of order, or after younger messages' reports."""
        self._counters.receipts_reordered += 1
        if len(events) > 1:
            times = [event.due_at for event in events]
            for event, at in zip(events, reversed(times), strict=True):
                event.due_at = event.reported_at = at
            return
        extra = timedelta(seconds=self._sampler.delay_s(delay_plan))
        events[0].due_at += extra
        events[0].reported_at += extra
