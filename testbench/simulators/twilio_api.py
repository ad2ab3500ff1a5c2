"""The Twilio REST endpoints of the simulator: Messages.json (create, fetch) and Balance.json.

HTTP Basic with AccountSid:AuthToken (API keys are not simulated); form-encoded bodies.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from email.utils import format_datetime
from typing import Any, Final
from urllib.parse import parse_qsl

import phonenumbers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from suppliers.segments import count_segments
from suppliers.settings import TwilioAccount
from testbench.simulators.config import SimulatorConfig
from testbench.simulators.engine import SimulatorEngine
from testbench.simulators.records import Submission, SubmitAttempt
from testbench.simulators.web import json_response, paced

API_VERSION: Final = "2010-04-01"
MAX_BODY: Final = 1600
# Reported for an unlimited balance, so balance probes read "plenty".
UNLIMITED_BALANCE: Final = "1000000.00"


def error_body(
    code: int, message: str, status: int, headers: dict[str, str] | None = None
) -> Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return json_response(body, status, headers)


class TwilioError(Exception):
    def __init__(self, code: int, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def response(self) -> Response:
        headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if self.status == 401 else None
        return error_body(self.code, self.message, self.status, headers)


def _rfc2822(at: datetime) -> str:
    return format_datetime(at, usegmt=False).replace("-0000", "+0000")


class TwilioApi:
    """Answers REST calls for one account."""

    def __init__(self, engine: SimulatorEngine, account: TwilioAccount) -> None:
        self._engine = engine
        self._account = account

    def authenticate(self, authorization: str | None, path_sid: str, path: str) -> None:
        scheme, _, encoded = (authorization or "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        token = self._account.auth_token.get_secret_value()
        if (
            scheme.lower() != "basic"
            or self._engine.outage() == "auth_fail"
            or (user, password) != (self._account.account_sid, token)
        ):
            raise TwilioError(20003, "Authenticate", 401)
        if path_sid != user:
            raise TwilioError(20404, f"The requested resource {path} was not found", 404)

    def create_message(self, form: dict[str, str]) -> Response:
        try:
            attempt = self._attempt(form)
        except TwilioError as error:
            return error.response()
        reply = self._engine.submit(attempt)
        if reply.refusal is not None:
            spec = self._engine.profile.code(reply.refusal.code)
            return error_body(int(spec.code), reply.refusal.message, spec.http_status)
        submission = reply.recipients[0].submission
        assert submission is not None  # one recipient, not refused
        return json_response(self.resource(submission), 201)

    def _attempt(self, form: dict[str, str]) -> SubmitAttempt:
        to = form.get("To", "")
        if not to:
            raise TwilioError(21604, "A 'To' phone number is required.", 400)
        try:
            valid = to.startswith("+") and phonenumbers.is_valid_number(phonenumbers.parse(to))
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            raise TwilioError(21211, f"The 'To' number {to} is not a valid phone number.", 400)
        sender = form.get("MessagingServiceSid") or form.get("From")
        if not sender:
            raise TwilioError(21603, "A 'From' phone number is required.", 400)
        body = form.get("Body", "")
        if not body:
            raise TwilioError(21602, "Message body is required.", 400)
        if len(body) > MAX_BODY:
            raise TwilioError(
                21617, "The concatenated message body exceeds the 1600 character limit.", 400
            )
        callback = form.get("StatusCallback") or None
        if callback is not None and not callback.startswith(("http://", "https://")):
            raise TwilioError(21609, "Invalid StatusCallback URL", 400)
        return SubmitAttempt(
            phones=(to,),
            sign_name=None,
            template_code=None,
            message_class="notification",
            segments=count_segments(body).segments,
            content=body,
            sender=sender,
            callback_url=callback,
        )

    def resource(self, submission: Submission) -> dict[str, Any]:
        """The Message resource as Twilio shows it now."""
        sid, account_sid = submission.message_id, self._account.account_sid
        sender = submission.attempt.sender or ""
        via_service = sender.startswith("MG")
        status, error_code = self._status_now(submission)
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
        created = _rfc2822(submission.submitted_at)
        return {
            "account_sid": account_sid,
            "api_version": API_VERSION,
            "body": submission.attempt.content,
            "date_created": created,
            "date_sent": None if status in ("queued", "accepted") else created,
            "date_updated": _rfc2822(self._engine.clock.now()),
            "direction": "outbound-api",
            "error_code": int(error_code) if error_code else None,
            "error_message": None,
            "from": self._account.from_number if via_service else sender,
            "messaging_service_sid": sender if via_service else None,
            "num_media": "0",
            "num_segments": "0" if via_service else str(submission.attempt.segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": status,
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": submission.phone,
            "uri": f"{uri}.json",
        }

    def _status_now(self, submission: Submission) -> tuple[str, str | None]:
        now, final_at = self._engine.clock.now(), submission.final_at
        initial = "accepted" if (submission.attempt.sender or "").startswith("MG") else "queued"
        if final_at is None or submission.outcome is None:
            return initial, None
        if submission.async_status == "failed":
            return ("failed", submission.raw_code) if now >= final_at else (initial, None)
        sent_at = submission.submitted_at + (final_at - submission.submitted_at) * 0.1
        if now >= final_at and submission.outcome != "UNKNOWN":
            delivered = submission.outcome == "DELIVERED"
            return ("delivered", None) if delivered else ("undelivered", submission.raw_code)
        return ("sent", None) if now >= sent_at else (initial, None)

    def balance(self) -> Response:
        balance = self._engine.balance()
        amount = f"{balance.units:.2f}" if balance.units is not None else UNLIMITED_BALANCE
        body = {
            "account_sid": self._account.account_sid,
            "balance": amount,
            "currency": balance.unit,
        }
        return json_response(body)


def twilio_routes(engine: SimulatorEngine, config: SimulatorConfig) -> list[Route]:
    assert isinstance(config.account, TwilioAccount)
    api = TwilioApi(engine, config.account)
    prefix = f"/{API_VERSION}/Accounts/{{account_sid}}"

    def authenticated(request: Request, account_sid: str) -> Response | None:
        try:
            api.authenticate(request.headers.get("Authorization"), account_sid, request.url.path)
        except TwilioError as error:
            return error.response()
        return None

    async def create(request: Request) -> Response:
        account_sid = request.path_params["account_sid"]
        body = (await request.body()).decode("utf-8", errors="replace")
        form = dict(parse_qsl(body, keep_blank_values=True))
        refused = authenticated(request, account_sid)
        return refused or await paced(engine, lambda: api.create_message(form))

    async def fetch(request: Request) -> Response:
        account_sid = request.path_params["account_sid"]
        message_sid = request.path_params["message_sid"]
        refused = authenticated(request, account_sid)
        if refused is not None:
            return refused
        submission = engine.submissions.get(message_sid)
        if submission is None:
            path = request.url.path
            return error_body(20404, f"The requested resource {path} was not found", 404)
        return json_response(api.resource(submission))

    async def balance(request: Request) -> Response:
        return authenticated(request, request.path_params["account_sid"]) or api.balance()

    return [
        Route(f"{prefix}/Messages.json", create, methods=["POST"]),
        Route(f"{prefix}/Messages/{{message_sid}}.json", fetch, methods=["GET"]),
        Route(f"{prefix}/Balance.json", balance, methods=["GET"]),
    ]
