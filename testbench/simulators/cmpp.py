"""The CMPP-style HTTP supplier (SUPPLIERS.md §4, our convention): codes, defaults, pushes.

Result codes are CMPP_SUBMIT_RESP numbers plus ours (10 balance, 11 suspended, 12 signature,
13 blacklisted, 14 bad number). Whole-call answers have their own keys: `http429` (throttle),
`http500` (platform fault). Content carries its signature, so there are no templates:
`template_revoked` has no effect.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlencode

import orjson
from starlette.responses import Response
from starlette.routing import Route

from suppliers.settings import CmppAccount
from suppliers.signing import cmpp_batch_push_signature, cmpp_push_signature
from testbench.simulators.cmpp_api import SIGNATURE_HEADER, cmpp_routes, report_fields
from testbench.simulators.config import SimulatorConfig
from testbench.simulators.engine import SimulatorEngine
from testbench.simulators.profile import DialectProfile, ReceiptStep, SubmitCode, magic_defaults
from testbench.simulators.pusher import OutgoingPush
from testbench.simulators.records import ReceiptEvent, Submission, Verdict
from testbench.simulators.sampling import Sampler
from testbench.simulators.web import json_response

_CODES: Final = (
    SubmitCode("1", "structure error", "recipient"),
    SubmitCode("2", "command error", "recipient"),
    SubmitCode("3", "duplicate sequence", "recipient"),
    SubmitCode("4", "length error", "recipient"),
    SubmitCode("5", "fee code error", "recipient"),
    SubmitCode("6", "message too long", "recipient"),
    SubmitCode("7", "service code error", "recipient"),
    SubmitCode("8", "flow control", "recipient"),
    SubmitCode("9", "other error", "recipient"),
    SubmitCode("10", "insufficient balance", "recipient"),
    SubmitCode("11", "account suspended", "recipient"),
    SubmitCode("12", "signature not registered", "recipient"),
    SubmitCode("13", "number blacklisted", "recipient"),
    SubmitCode("14", "bad number", "recipient"),
    SubmitCode("http429", "flow control", "request", 429),
    SubmitCode("http500", "internal error", "request", 500),
)


def _ids(sampler: Sampler, count: int) -> tuple[str, list[str]]:
    ids = [sampler.digits(19) for _ in range(count)]
    return (ids[0] if ids else ""), ids


def _steps(submission: Submission) -> tuple[ReceiptStep, ...]:
    # An SMSC that never hears back still reports: stat UNKNOWN.
    return () if submission.outcome is None else (ReceiptStep("final", 1.0, True),)


PROFILE: Final = DialectProfile(
    name="cmpp",
    codes={code.code: code for code in _CODES},
    verdict_codes={
        Verdict.THROTTLED: "http429",
        Verdict.NO_BALANCE: "10",
        Verdict.SUSPENDED: "11",
        Verdict.SIGNATURE_UNAPPROVED: "12",
        Verdict.OPTED_OUT: "13",
    },
    platform_error="9",
    per_recipient_results=True,
    default_throttle=None,  # an aggregator's rate is per contract (C: off)
    default_limits=(),  # per-number limits show as LIMIT/BEYOND* receipts when planned
    outcome_codes={
        "DELIVERED": ("DELIVRD",),
        "FAILED": ("UNDELIV", "MK:0001", "MK:0005", "MI:0024"),
        "EXPIRED": ("EXPIRED",),
        "REJECTED": ("REJECTD", "DB:0144", "MBBLACK", "KEYWORD"),
        "UNKNOWN": ("UNKNOWN",),
    },
    magic_numbers=magic_defaults("MK:0001"),
    retry_schedule_s=(60.0, 300.0, 600.0),
    balance_unit="messages",
    has_pull=True,
    max_per_push=None,  # batching above 1 switches to the `batch=1` JSON array form
    make_ids=_ids,
    receipt_steps=_steps,
)


class CmppPushFormat:
    """One form POST per report (or a JSON array when batching), signed with X-Sim-Signature."""

    def __init__(self, engine: SimulatorEngine, account: CmppAccount) -> None:
        self._engine = engine
        self._secret = account.secret.get_secret_value()

    def render(self, events: Sequence[ReceiptEvent], url: str) -> OutgoingPush:
        reports = [report_fields(event) for event in events]
        if self._engine.plan.receipts.batching.max_per_push > 1:
            body = orjson.dumps(reports)
            headers = {"Content-Type": "application/json"}
            signature = cmpp_batch_push_signature(self._secret, body)
        else:
            (fields,) = reports
            body = urlencode(fields).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            signature = cmpp_push_signature(self._secret, fields)
        if self._engine.plan.verify_signatures:
            headers[SIGNATURE_HEADER] = signature
        return OutgoingPush(url, headers, body)

    def accepted(self, status: int, body: bytes) -> bool:
        return status == 200 and body.strip() == b"OK"


class CmppSim:
    """The CMPP-ish dialect of the simulator."""

    profile = PROFILE

    def default_senders(self, config: SimulatorConfig) -> tuple[str, ...]:
        return ()

    def routes(self, engine: SimulatorEngine, config: SimulatorConfig) -> list[Route]:
        return cmpp_routes(engine, config)

    def push_format(self, engine: SimulatorEngine, config: SimulatorConfig) -> CmppPushFormat:
        assert isinstance(config.account, CmppAccount)
        return CmppPushFormat(engine, config.account)

    def unavailable(self) -> Response:
        return json_response(
            {"code": 9, "msg": "service unavailable", "id": str(uuid.uuid4())}, 503
        )
