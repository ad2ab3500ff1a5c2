"""Twilio Programmable Messaging as the simulator speaks it: codes, statuses, signed callbacks.

The REST API itself is in `twilio_api`. Twilio has no signatures or templates: a revoked
"signature" is a revoked sender (21606), and `template_revoked` has no effect. Account failures
(suspended, no balance: 30002) and queue overflow (30001) are accepted and fail as callbacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from suppliers.settings import TwilioAccount
from suppliers.signing import twilio_signature
from testbench.simulators.config import SimulatorConfig
from testbench.simulators.engine import SimulatorEngine
from testbench.simulators.profile import DialectProfile, ReceiptStep, SubmitCode, magic_defaults
from testbench.simulators.pusher import OutgoingPush
from testbench.simulators.records import ReceiptEvent, Submission, Verdict
from testbench.simulators.sampling import Sampler
from testbench.simulators.twilio_api import API_VERSION, error_body, twilio_routes

_CODES: Final = (
    SubmitCode("20429", "Too Many Requests", "request", 429),
    SubmitCode("20003", "Authenticate", "request", 401),
    SubmitCode("21211", "The 'To' number is not a valid phone number.", "request", 400),
    SubmitCode("21614", "'To' number is not a valid mobile number", "request", 400),
    SubmitCode("21610", "Attempt to send to unsubscribed recipient", "request", 400),
    SubmitCode(
        "21408",
        "Permission to send an SMS has not been enabled for the region indicated by the 'To' "
        "number",
        "request",
        400,
    ),
    SubmitCode(
        "21606",
        "The 'From' phone number provided is not a valid message-enabled phone number for this "
        "account.",
        "request",
        400,
    ),
    SubmitCode("20500", "Internal Server Error", "request", 500),
    SubmitCode("20503", "Service Unavailable", "request", 503),
    SubmitCode("30001", "Queue overflow", "async"),
    SubmitCode("30002", "Account suspended", "async"),
    SubmitCode("30003", "Unreachable destination handset", "async"),
    SubmitCode("30005", "Unknown destination handset", "async"),
    SubmitCode("30006", "Landline or unreachable carrier", "async"),
    SubmitCode("30007", "Message filtered", "async", async_outcome="REJECTED"),
    SubmitCode("30008", "Unknown error", "async"),
)

# `sent` comes after a tenth of the receipt delay; the final status at the delay.
SENT_AT: Final = 0.1


def _ids(sampler: Sampler, count: int) -> tuple[str, list[str]]:
    sids = [f"SM{sampler.hex(32)}" for _ in range(count)]
    return (sids[0] if sids else ""), sids


def status_steps(submission: Submission) -> tuple[ReceiptStep, ...]:
    """Callbacks for a message: `sent` then the final status; only `failed` if it never left."""
    if submission.async_status == "failed":
        return (ReceiptStep("failed", 1.0, True),)
    if submission.outcome is None:
        return ()
    sent = ReceiptStep("sent", SENT_AT, False)
    if submission.outcome == "UNKNOWN":
        return (sent,)  # the carrier never answered: `sent` stays the last status
    final = "delivered" if submission.outcome == "DELIVERED" else "undelivered"
    return (sent, ReceiptStep(final, 1.0, True))


PROFILE: Final = DialectProfile(
    name="twilio",
    codes={code.code: code for code in _CODES},
    verdict_codes={
        Verdict.THROTTLED: "20429",
        Verdict.NO_BALANCE: "30002",
        Verdict.SUSPENDED: "30002",
        Verdict.SENDER_UNAPPROVED: "21606",
        Verdict.REGION_UNAPPROVED: "21408",
        Verdict.OPTED_OUT: "21610",
    },
    platform_error="20500",
    per_recipient_results=True,
    default_throttle=None,  # Twilio limits concurrency, not a documented rate (C: off)
    default_limits=(),
    outcome_codes={
        "DELIVERED": ("",),
        "FAILED": ("30003", "30005", "30006", "30008"),
        "EXPIRED": ("30003",),  # Twilio has no expiry status: the handset stayed unreachable
        "REJECTED": ("30007",),
        "UNKNOWN": ("",),
    },
    magic_numbers=magic_defaults("30005"),
    retry_schedule_s=(60.0, 300.0, 600.0),  # U in Twilio's docs (C)
    balance_unit="USD",
    has_pull=False,
    max_per_push=1,  # one form POST per status
    make_ids=_ids,
    receipt_steps=status_steps,
)


class StatusCallbackFormat:
    """A form POST per status, signed with X-Twilio-Signature; any 2xx reply is taken."""

    def __init__(self, engine: SimulatorEngine, account: TwilioAccount) -> None:
        self._engine = engine
        self._account = account

    def render(self, events: Sequence[ReceiptEvent], url: str) -> OutgoingPush:
        (event,) = events
        submission = event.submission
        params = {
            "MessageSid": submission.message_id,
            "SmsSid": submission.message_id,
            "SmsStatus": event.label,
            "MessageStatus": event.label,
            "AccountSid": self._account.account_sid,
            "To": submission.phone,
            "ApiVersion": API_VERSION,
        }
        sender = submission.attempt.sender or ""
        if sender.startswith("MG"):
            params["MessagingServiceSid"] = sender
            if self._account.from_number:
                params["From"] = self._account.from_number
        else:
            params["From"] = sender
        if event.label in ("undelivered", "failed") and submission.raw_code:
            params["ErrorCode"] = submission.raw_code
        if event.label in ("delivered", "undelivered"):
            params["RawDlrDoneDate"] = event.reported_at.strftime("%y%m%d%H%M")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
        }
        if self._engine.plan.verify_signatures:
            token = self._account.auth_token.get_secret_value()
            headers["X-Twilio-Signature"] = twilio_signature(token, url, params)
        return OutgoingPush(url, headers, urlencode(params).encode())

    def accepted(self, status: int, body: bytes) -> bool:
        return 200 <= status < 300


class TwilioSim:
    """The Twilio dialect of the simulator."""

    profile = PROFILE

    def default_senders(self, config: SimulatorConfig) -> tuple[str, ...]:
        account = config.account
        assert isinstance(account, TwilioAccount)
        return tuple(s for s in (account.from_number, account.messaging_service_sid) if s)

    def routes(self, engine: SimulatorEngine, config: SimulatorConfig) -> list[Route]:
        return twilio_routes(engine, config)

    def push_format(self, engine: SimulatorEngine, config: SimulatorConfig) -> StatusCallbackFormat:
        assert isinstance(config.account, TwilioAccount)
        return StatusCallbackFormat(engine, config.account)

    def unavailable(self) -> Response:
        return error_body(20503, "Service Unavailable", 503)
