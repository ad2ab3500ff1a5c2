"""What a simulator remembers: submissions, planned receipt events, verdicts and counters."""

from __future__ import annotations

from collections import Counter, OrderedDict, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from smsplatform.contracts import MessageClass
from testbench.simulators.plan import Outcome


@dataclass(frozen=True, slots=True)
class SubmitAttempt:
    """One submit call as the engine sees it, after the dialect parsed and validated it."""

    phones: tuple[str, ...]  # E.164
    sign_name: str | None
    template_code: str | None
    message_class: MessageClass
    segments: int
    content: str
    sender: str | None = None  # Twilio From / MessagingServiceSid
    out_id: str | None = None  # our id echoed back (OutId, client_msgid, SessionContext)
    callback_url: str | None = None  # per-message callback (Twilio StatusCallback)
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Submission:
    """One accepted message to one recipient, and the fate the plan gave it."""

    message_id: str  # the supplier's id for this recipient (SerialNo, sid, msgid)
    batch_id: str  # the id of the call (Alibaba BizId; equal to message_id elsewhere)
    phone: str
    carrier: str
    attempt: SubmitAttempt
    submitted_at: datetime
    outcome: Outcome | None = None  # None: never reported (magic NONE)
    raw_code: str = ""
    final_at: datetime | None = None
    async_status: str | None = None  # dialect status for failures before the carrier (Twilio)


@dataclass(slots=True)
class ReceiptEvent:
    """One report to push (or to be pulled) about a submission."""

    submission: Submission
    label: str  # the dialect's status for this report: "final", or Twilio's "sent"/"delivered"…
    final: bool
    reported_at: datetime  # when the carrier reported it (the first due time)
    due_at: datetime  # when to push next (later than reported_at after failed pushes)
    url: str | None
    attempt: int = 0  # failed pushes so far


class Verdict(StrEnum):
    """Why the engine answered a submit (or one recipient of it) the way it did."""

    ACCEPTED = "accepted"
    THROTTLED = "throttled"
    NO_BALANCE = "no_balance"
    SUSPENDED = "suspended"
    SIGNATURE_UNAPPROVED = "signature_unapproved"
    TEMPLATE_UNAPPROVED = "template_unapproved"
    SENDER_UNAPPROVED = "sender_unapproved"
    REGION_UNAPPROVED = "region_unapproved"
    RECIPIENT_LIMIT = "recipient_limit"
    OPTED_OUT = "opted_out"
    INJECTED = "injected"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A submit error in the dialect's own code."""

    verdict: Verdict
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class RecipientResult:
    phone: str
    submission: Submission | None  # set when accepted
    refusal: Refusal | None  # set when refused


@dataclass(frozen=True, slots=True)
class SubmitReply:
    """The engine's answer to one submit call: a whole-call refusal, or one result per phone."""

    refusal: Refusal | None
    recipients: tuple[RecipientResult, ...] = ()


@dataclass
class Counters:
    requests: int = 0
    accepted: int = 0  # messages (one per recipient)
    refused: Counter[str] = field(default_factory=Counter)  # by the dialect's code
    timeouts: int = 0
    receipts_scheduled: int = 0
    receipts_lost: int = 0
    receipts_duplicated: int = 0
    receipts_reordered: int = 0
    receipts_unroutable: int = 0  # no callback URL and no pull API
    receipts_pushed: int = 0
    push_failures: int = 0
    receipts_dropped: int = 0  # re-push schedule exhausted
    receipts_pulled: int = 0


class SubmissionLog:
    """The most recent submissions by id and by phone (bounded, oldest forgotten first)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._by_id: OrderedDict[str, Submission] = OrderedDict()
        self._by_phone: defaultdict[str, list[Submission]] = defaultdict(list)

    def add(self, submission: Submission) -> None:
        self._by_id[submission.message_id] = submission
        self._by_phone[submission.phone].append(submission)
        while len(self._by_id) > self._capacity:
            _, oldest = self._by_id.popitem(last=False)
            kept = [s for s in self._by_phone[oldest.phone] if s is not oldest]
            if kept:
                self._by_phone[oldest.phone] = kept
            else:
                del self._by_phone[oldest.phone]

    def get(self, message_id: str) -> Submission | None:
        return self._by_id.get(message_id)

    def for_phone(self, phone: str) -> list[Submission]:
        return list(self._by_phone.get(phone, ()))

    def __len__(self) -> int:
        return len(self._by_id)
