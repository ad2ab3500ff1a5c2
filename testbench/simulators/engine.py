"""The dialect-neutral simulator core: applies the fault plan to submits and plans their receipts.

Pure and synchronous: time comes from the injected clock and chance from one seeded sampler, so
a test replays the same answers and receipts. The dialect routers (HTTP) and the pusher (I/O)
sit around it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
from phonenumbers import region_code_for_number

from smsplatform.clock import Clock
from suppliers.carriers import carrier_of
from testbench.simulators.fates import FatePlanner
from testbench.simulators.ledger import BalanceLedger, BalanceView
from testbench.simulators.limits import RecipientLimiter, TokenBucket
from testbench.simulators.plan import (
    FaultPlan,
    MagicOutcome,
    OutageMode,
    Outcome,
    TemplateSpec,
    Throttle,
    outage_window,
)
from testbench.simulators.profile import DialectProfile
from testbench.simulators.receipts import ReceiptQueue
from testbench.simulators.records import (
    Counters,
    ReceiptEvent,
    RecipientResult,
    Refusal,
    Submission,
    SubmissionLog,
    SubmitAttempt,
    SubmitReply,
    Verdict,
)
from testbench.simulators.sampling import Sampler

log = logging.getLogger("sendtier.sim")


class PlanRejected(ValueError):
    """A plan that does not fit the dialect; `field` is its dotted path in the plan."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Pacing:
    """How one API request is paced: wait `delay_s`, and whether it is processed at all."""

    delay_s: float
    timed_out: bool  # hangs past the client's timeout
    processed: bool  # a timed-out submit may still be sent (plan.submit.timeout_sends)


# A recipient's fate while a call is decided: refusal, or a forced receipt for async failures.
@dataclass(slots=True)
class _Pending:
    phone: str
    attempt: SubmitAttempt
    magic: MagicOutcome | None
    refusal: Refusal | None = None
    forced: tuple[Outcome, str] | None = None
    cost: float = 0.0


class SimulatorEngine:
    """One simulated supplier account: balance, limits, outages, submissions and receipts."""

    def __init__(
        self,
        profile: DialectProfile,
        clock: Clock,
        *,
        seed: int = 0,
        plan: FaultPlan | None = None,
        callback_url: str | None = None,
        default_senders: Sequence[str] = (),
        max_records: int = 200_000,
    ) -> None:
        self.profile = profile
        self.clock = clock
        self.callback_url = callback_url
        self.sampler = Sampler(seed)
        self.counters = Counters()
        self.receipts = ReceiptQueue()
        self.submissions = SubmissionLog(max_records)
        self._fates = FatePlanner(profile, self.sampler, self.counters, self.receipts)
        self._default_senders = tuple(default_senders)
        self._plan = FaultPlan()
        self._throttle: Throttle | None = None
        self._bucket: TokenBucket | None = None
        self._limiter = RecipientLimiter(())
        self._ledger = BalanceLedger(None, profile.balance_unit)
        self._outages: list[tuple[OutageMode, datetime | None, datetime | None]] = []
        self._magic: dict[str, MagicOutcome] = {}
        self.set_plan(plan or FaultPlan(), reset=True)

    # --- the plan -------------------------------------------------------------------------------
    @property
    def plan(self) -> FaultPlan:
        return self._plan

    def set_plan(self, plan: FaultPlan, *, reset: bool = False) -> None:
        """Apply a plan now; balance, bucket and limit windows carry over unless they changed."""
        self._check(plan)
        now = self.clock.now()
        if plan.seed is not None:
            self.sampler.reseed(plan.seed)
        throttle = self.profile.default_throttle if plan.throttle is None else plan.throttle or None
        if reset or throttle != self._throttle:
            self._throttle = throttle
            self._bucket = (
                TokenBucket(throttle.qps, throttle.capacity, self.clock.monotonic())
                if throttle
                else None
            )
        rules = (
            self.profile.default_limits
            if plan.per_recipient_limits is None
            else tuple(plan.per_recipient_limits)
        )
        if reset or rules != self._limiter.rules:
            self._limiter = RecipientLimiter(rules)
        if reset or plan.balance != self._ledger.plan:
            self._ledger = BalanceLedger(plan.balance, self.profile.balance_unit)
        self._outages = [(outage.mode, *outage_window(outage, now)) for outage in plan.outages]
        magic = self.profile.magic_numbers if plan.magic_numbers is None else plan.magic_numbers
        self._magic = dict(magic)
        self._plan = plan
        log.info(
            "sim plan applied dialect=%s error_rate=%s outages=%d balance=%s",
            self.profile.name,
            plan.submit.error_rate,
            len(plan.outages),
            self._ledger.view().units,
        )

    def _check(self, plan: FaultPlan) -> None:
        codes = self.profile.codes
        for code in plan.submit.error_mix:
            if code not in codes:
                raise PlanRejected(
                    f"submit.error_mix.{code}",
                    f"not a {self.profile.name} submit code (known: {', '.join(sorted(codes))})",
                )
        for index, rule in enumerate(plan.per_recipient_limits or ()):
            if rule.code not in codes:
                raise PlanRejected(
                    f"per_recipient_limits.{index}.code",
                    f"not a {self.profile.name} submit code",
                )

    def template(self, code: str) -> TemplateSpec | None:
        templates = self._plan.approved.templates
        return templates.get(code) if templates else None

    # --- time-driven state ----------------------------------------------------------------------
    def outage(self) -> OutageMode | None:
        """The outage in force now, if any (the first listed wins when windows overlap)."""
        now = self.clock.now()
        for mode, start, end in self._outages:
            if (start is None or start <= now) and (end is None or now < end):
                return mode
        return None

    def balance(self) -> BalanceView:
        return self._ledger.view()

    def pacing(self) -> Pacing:
        """Draw how long the next request takes, and whether it times out."""
        submit = self._plan.submit
        if self.sampler.chance(submit.timeout_rate):
            self.counters.timeouts += 1
            return Pacing(submit.timeout_hang_ms / 1000.0, True, submit.timeout_sends)
        return Pacing(self.sampler.delay_s(submit.latency), False, True)

    # --- submits --------------------------------------------------------------------------------
    def refusal(self, verdict: Verdict, message: str | None = None) -> Refusal:
        code = self.profile.verdict_codes[verdict]
        return Refusal(verdict, code, message or self.profile.codes[code].message)

    def submit(self, attempt: SubmitAttempt) -> SubmitReply:
        """Decide one submit call: throttle, account, approvals, then each recipient."""
        return self.submit_call([attempt])

    def submit_call(self, attempts: Sequence[SubmitAttempt]) -> SubmitReply:
        """Decide one call that carries several attempts, each with its own signature and text
        (Alibaba SendBatchSms): one throttle token, one error draw, one call id."""
        self.counters.requests += 1
        if self._bucket is not None and not self._bucket.take(self.clock.monotonic()):
            return self._refuse(self.refusal(Verdict.THROTTLED))
        pending: list[_Pending] = []
        for attempt in attempts:
            account = self._account_refusal(attempt)
            forced: tuple[Outcome, str] | None = None
            if account is not None:
                if self.profile.code(account.code).scope != "async":
                    return self._refuse(account)
                forced = (self.profile.code(account.code).async_outcome, account.code)
            pending += (
                _Pending(phone, attempt, self._magic.get(phone), forced=forced)
                for phone in attempt.phones
            )
        now_s = self.clock.now().timestamp()
        call_error = None
        if not self.profile.per_recipient_results and any(p.magic is None for p in pending):
            call_error = self._draw_error()
        running_cost = 0.0
        for item in pending:
            if item.magic is None and item.forced is None:
                item.refusal = self._recipient_refusal(item.phone, item.attempt, now_s, call_error)
            if item.refusal is None and item.forced is None:
                item.cost = self._ledger.cost(item.attempt.segments)
                if self._ledger.covers(running_cost + item.cost):
                    running_cost += item.cost
                else:
                    item.refusal, item.cost = self.refusal(Verdict.NO_BALANCE), 0.0
            if item.refusal is not None:
                spec = self.profile.code(item.refusal.code)
                if spec.scope == "request":
                    return self._refuse(item.refusal)
                if spec.scope == "async":
                    item.forced, item.refusal = (spec.async_outcome, item.refusal.code), None
        return self._commit(pending, now_s)

    def _account_refusal(self, attempt: SubmitAttempt) -> Refusal | None:
        mode = self.outage()
        approved = self._plan.approved
        checks = self.profile.verdict_codes
        if mode == "suspended":
            return self.refusal(Verdict.SUSPENDED)
        if Verdict.SIGNATURE_UNAPPROVED in checks and (
            mode == "signature_revoked"
            or (approved.signatures is not None and attempt.sign_name not in approved.signatures)
        ):
            return self.refusal(Verdict.SIGNATURE_UNAPPROVED)
        if Verdict.TEMPLATE_UNAPPROVED in checks and (
            mode == "template_revoked"
            or (approved.templates is not None and attempt.template_code not in approved.templates)
        ):
            return self.refusal(Verdict.TEMPLATE_UNAPPROVED)
        senders = approved.senders if approved.senders is not None else self._default_senders
        if Verdict.SENDER_UNAPPROVED in checks and (
            mode == "signature_revoked" or (senders and attempt.sender not in senders)
        ):
            return self.refusal(Verdict.SENDER_UNAPPROVED)
        return None

    def _recipient_refusal(
        self, phone: str, attempt: SubmitAttempt, now_s: float, call_error: Refusal | None
    ) -> Refusal | None:
        checks = self.profile.verdict_codes
        if Verdict.OPTED_OUT in checks and phone in self._plan.opted_out:
            return self.refusal(Verdict.OPTED_OUT)
        regions = self._plan.approved.regions
        if (
            Verdict.REGION_UNAPPROVED in checks
            and regions is not None
            and region_code_for_number(phonenumbers.parse(phone, None)) not in regions
        ):
            return self.refusal(Verdict.REGION_UNAPPROVED)
        error = call_error if not self.profile.per_recipient_results else self._draw_error()
        if error is not None:
            return error
        rule = self._limiter.check(phone, attempt, now_s)
        if rule is not None:
            message = rule.message or self.profile.code(rule.code).message
            return Refusal(Verdict.RECIPIENT_LIMIT, rule.code, message)
        return None

    def _draw_error(self) -> Refusal | None:
        submit = self._plan.submit
        if not self.sampler.chance(submit.error_rate):
            return None
        mix = list(submit.error_mix.items()) or [(self.profile.platform_error, 1.0)]
        code = self.sampler.weighted(mix)
        return Refusal(Verdict.INJECTED, code, self.profile.code(code).message)

    def _refuse(self, refusal: Refusal) -> SubmitReply:
        self.counters.refused[refusal.code] += 1
        return SubmitReply(refusal)

    def _commit(self, pending: list[_Pending], now_s: float) -> SubmitReply:
        accepted = [item for item in pending if item.refusal is None]
        batch_id, message_ids = self.profile.make_ids(self.sampler, len(accepted))
        ids = iter(message_ids)
        now = self.clock.now()
        results = []
        for item in pending:
            if item.refusal is not None:
                self.counters.refused[item.refusal.code] += 1
                results.append(RecipientResult(item.phone, None, item.refusal))
                continue
            self._ledger.spend(item.cost)
            if item.magic is None:
                self._limiter.record(item.phone, item.attempt, now_s)
            submission = Submission(
                message_id=next(ids),
                batch_id=batch_id,
                phone=item.phone,
                carrier=carrier_of(item.phone),
                attempt=item.attempt,
                submitted_at=now,
            )
            self._fates.plan(submission, self._plan, self.callback_url, item.magic, item.forced)
            self.submissions.add(submission)
            self.counters.accepted += 1
            results.append(RecipientResult(item.phone, submission, None))
        return SubmitReply(None, tuple(results))

    # --- receipts -------------------------------------------------------------------------------
    def take_pull(self, limit: int) -> list[ReceiptEvent]:
        """Due receipts for the dialect's pull API; a pulled receipt is never pushed."""
        events = self.receipts.take_pullable(self.clock.now(), limit)
        self.counters.receipts_pulled += len(events)
        return events

    def final_known(self, submission: Submission) -> bool:
        """Whether the carrier has reported the final status by now (for status queries)."""
        return (
            submission.outcome not in (None, "UNKNOWN")
            and submission.final_at is not None
            and submission.final_at <= self.clock.now()
        )

    def state(self) -> dict[str, Any]:
        """Counters, balance and receipt backlog, as `GET /_sim/state` shows them."""
        now = self.clock.now()
        counters = self.counters
        return {
            "dialect": self.profile.name,
            "now": now.isoformat(),
            "outage": self.outage(),
            "balance": self.balance().as_dict(),
            "counters": {
                "requests": counters.requests,
                "accepted": counters.accepted,
                "refused": sum(counters.refused.values()),
                "timeouts": counters.timeouts,
                "receipts_scheduled": counters.receipts_scheduled,
                "receipts_lost": counters.receipts_lost,
                "receipts_duplicated": counters.receipts_duplicated,
                "receipts_reordered": counters.receipts_reordered,
                "receipts_unroutable": counters.receipts_unroutable,
                "receipts_pushed": counters.receipts_pushed,
                "push_failures": counters.push_failures,
                "receipts_dropped": counters.receipts_dropped,
                "receipts_pulled": counters.receipts_pulled,
            },
            "refused_by_code": dict(counters.refused),
            "receipts": {
                "pending": self.receipts.pending(),
                "due": self.receipts.due(now),
                "retrying": self.receipts.retrying(),
            },
            "submissions_kept": len(self.submissions),
        }
