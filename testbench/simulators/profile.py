"""What the shared engine needs to know about a dialect: its codes, defaults and receipt steps."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from testbench.simulators.plan import LimitRule, MagicOutcome, Outcome, Throttle
from testbench.simulators.records import Submission, Verdict
from testbench.simulators.sampling import Sampler

# request: the whole call fails with it; recipient: only that number; async: the submit is
# accepted and the failure arrives as a receipt (Twilio's 30001/30002).
CodeScope = Literal["request", "recipient", "async"]


@dataclass(frozen=True, slots=True)
class SubmitCode:
    """One submit error code of a dialect and how it shows."""

    code: str
    message: str
    scope: CodeScope
    http_status: int = 200
    async_outcome: Outcome = "FAILED"  # the receipt outcome of an async code


@dataclass(frozen=True, slots=True)
class ReceiptStep:
    """One report the dialect sends about a message, at a share of its receipt delay."""

    label: str
    at: float  # 1.0: at the final report time; 0.1: a tenth of the way
    final: bool


@dataclass(frozen=True)
class DialectProfile:
    """A dialect's codes and real defaults, as data the engine applies."""

    name: str
    codes: Mapping[str, SubmitCode]  # every submit error code error_mix may name
    # The code for each account-level refusal the dialect has; a verdict left out is not checked.
    verdict_codes: Mapping[Verdict, str]
    platform_error: str  # the code for an injected error when the plan gives no error_mix
    # Whether a call with several numbers answers per number (Tencent, CMPP) or as a whole.
    per_recipient_results: bool
    default_throttle: Throttle | None
    default_limits: tuple[LimitRule, ...]
    outcome_codes: Mapping[Outcome, tuple[str, ...]]  # raw codes used when the plan names none
    magic_numbers: Mapping[str, MagicOutcome]
    retry_schedule_s: tuple[float, ...]  # re-push delays after each failed push
    balance_unit: str
    has_pull: bool  # receipts can be pulled, so they are kept even without a callback URL
    max_per_push: int | None  # None: the plan's batching decides; 1 for one report per request
    # (call id, one message id per recipient) for an accepted call.
    make_ids: Callable[[Sampler, int], tuple[str, list[str]]]
    receipt_steps: Callable[[Submission], tuple[ReceiptStep, ...]]

    def code(self, code: str) -> SubmitCode:
        return self.codes[code]


def single_final_report(submission: Submission) -> tuple[ReceiptStep, ...]:
    """One report at the final time; none for UNKNOWN (the supplier never hears back)."""
    if submission.outcome in (None, "UNKNOWN"):
        return ()
    return (ReceiptStep("final", 1.0, True),)


def magic_defaults(failed_code: str) -> dict[str, MagicOutcome]:
    """SUPPLIERS.md §8's test recipients: …0001 delivered, …0002 fails, …0003 never reported."""
    return {
        "+8613800000001": MagicOutcome(outcome="DELIVERED"),
        "+8613800000002": MagicOutcome(outcome="FAILED", code=failed_code),
        "+8613800000003": MagicOutcome(outcome="NONE"),
    }
