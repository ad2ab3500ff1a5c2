"""The CMPP-style HTTP endpoints of the simulator: form submit, report pull, balance (all C).

Every call carries `account`, `ts` (Unix s) and `sign` = hex HMAC-SHA256(secret, account + ts);
a bad sign or a skew over 300 s answers HTTP 401 `{"code":"AUTH"}`.
"""

from __future__ import annotations

import re
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from suppliers.segments import count_segments
from suppliers.settings import CmppAccount
from suppliers.signing import cmpp_submit_sign_valid
from testbench.simulators.config import SimulatorConfig
from testbench.simulators.engine import SimulatorEngine
from testbench.simulators.records import ReceiptEvent, SubmitAttempt
from testbench.simulators.web import china_time, form_params, json_response, mainland_e164, paced

SIGNATURE_HEADER: Final = "X-Sim-Signature"
MAX_SKEW_S: Final = 300
MAX_NUMBERS: Final = 100
MAX_CONTENT: Final = 500
_SIGNATURE: Final = re.compile(r"^【([^】]{1,20})】")
_DIGITS: Final = re.compile(r"[0-9]+")


class CmppError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body))
        self.status, self.body = status, body


def _auth() -> CmppError:
    return CmppError(401, {"code": "AUTH"})


def report_fields(event: ReceiptEvent) -> dict[str, str]:
    """One receipt as the push (and the pull) carries it."""
    submission = event.submission
    stat = submission.raw_code
    delivered = submission.outcome == "DELIVERED"
    digits = _DIGITS.findall(stat)
    err = "000" if delivered else (digits[-1][-3:].zfill(3) if digits else "001")
    submit_date = china_time(submission.submitted_at, "%y%m%d%H%M")
    done_date = china_time(event.reported_at, "%y%m%d%H%M")
    dlvrd = "001" if delivered else "000"
    text = submission.attempt.content[:20]
    return {
        "msgid": submission.message_id,
        "mobile": submission.phone.removeprefix("+86"),
        "stat": stat,
        "err": err,
        "submit_date": submit_date,
        "done_date": done_date,
        "sub": "001",
        "dlvrd": dlvrd,
        "client_msgid": submission.attempt.out_id or "",
        "report": (
            f"id:{submission.message_id} sub:001 dlvrd:{dlvrd} submit date:{submit_date} "
            f"done date:{done_date} stat:{stat} err:{err} text:{text}"
        ),
    }


class CmppApi:
    """Answers the form API for one account."""

    def __init__(self, engine: SimulatorEngine, account: CmppAccount) -> None:
        self._engine = engine
        self._account = account

    def authenticate(self, params: dict[str, str]) -> None:
        for name in ("account", "ts", "sign"):
            if not params.get(name):
                raise CmppError(400, {"code": 1, "msg": f"{name} is required", "field": name})
        if self._engine.outage() == "auth_fail" or params["account"] != self._account.account:
            raise _auth()
        try:
            ts = int(params["ts"])
        except ValueError:
            raise _auth() from None
        if abs(self._engine.clock.now().timestamp() - ts) > MAX_SKEW_S:
            raise _auth()
        secret = self._account.secret.get_secret_value()
        if self._engine.plan.verify_signatures and not cmpp_submit_sign_valid(
            secret, params["account"], params["ts"], params["sign"]
        ):
            raise _auth()

    def submit(self, params: dict[str, str]) -> Response:
        try:
            self.authenticate(params)
            return json_response(self._submit(params))
        except CmppError as error:
            return json_response(error.body, error.status)

    def _submit(self, params: dict[str, str]) -> dict[str, Any]:
        for name in ("mobile", "content"):
            if not params.get(name):
                raise CmppError(400, {"code": 1, "msg": f"{name} is required", "field": name})
        mobiles = [m.strip() for m in params["mobile"].split(",") if m.strip()]
        if len(mobiles) > MAX_NUMBERS:
            raise CmppError(
                400, {"code": 4, "msg": "too many numbers (max 100)", "field": "mobile"}
            )
        content = params["content"]
        phones = {mobile: mainland_e164(mobile) for mobile in mobiles}
        signature = _SIGNATURE.match(content)
        segments = count_segments(content).segments
        if len(content) > MAX_CONTENT:
            return _results([(m, "", 0, 6) for m in mobiles])
        if signature is None:
            return _results([(m, "", 0, 12 if phones[m] else 14) for m in mobiles])
        valid = tuple(dict.fromkeys(p for p in phones.values() if p is not None))
        outcomes: dict[str, tuple[str, int, int]] = {}
        if valid:
            reply = self._engine.submit(
                SubmitAttempt(
                    phones=valid,
                    sign_name=signature.group(1),
                    template_code=None,
                    message_class="notification",
                    segments=segments,
                    content=content,
                    out_id=params.get("client_msgid") or None,
                    extra={"ext": params.get("ext", "")},
                )
            )
            if reply.refusal is not None:
                spec = self._engine.profile.code(reply.refusal.code)
                if spec.http_status != 200:
                    body = {"code": _whole_call_code(spec.code), "msg": spec.message}
                    raise CmppError(spec.http_status, body)
                outcomes = {phone: ("", 0, int(spec.code)) for phone in valid}
            for result in reply.recipients:
                if result.submission is not None:
                    outcomes[result.phone] = (result.submission.message_id, segments, 0)
                elif result.refusal is not None:
                    outcomes[result.phone] = ("", 0, int(result.refusal.code))
        rows = []
        for mobile in mobiles:
            phone = phones[mobile]
            msgid, billed, result_code = outcomes[phone] if phone else ("", 0, 14)
            rows.append((mobile, msgid, billed, result_code))
        return _results(rows)

    def pull(self, params: dict[str, str]) -> Response:
        try:
            self.authenticate(params)
            limit = int(params.get("max") or 100)
        except CmppError as error:
            return json_response(error.body, error.status)
        except ValueError:
            return json_response({"code": 1, "msg": "max must be an integer", "field": "max"}, 400)
        if not 1 <= limit <= 100:
            return json_response({"code": 1, "msg": "max must be 1..100", "field": "max"}, 400)
        reports = [report_fields(event) for event in self._engine.take_pull(limit)]
        return json_response({"code": 0, "msg": "ok", "reports": reports})

    def balance(self, params: dict[str, str]) -> Response:
        try:
            self.authenticate(params)
        except CmppError as error:
            return json_response(error.body, error.status)
        balance = self._engine.balance()
        return json_response({"code": 0, "balance": balance.units, "unit": balance.unit})


def _whole_call_code(code: str) -> int:
    return 8 if code == "http429" else 9


def _results(rows: list[tuple[str, str, int, int]]) -> dict[str, Any]:
    results = [
        {"mobile": mobile, "msgid": msgid, "segments": segments, "result": result}
        for mobile, msgid, segments, result in rows
    ]
    return {"code": 0, "msg": "ok", "results": results}


def cmpp_routes(engine: SimulatorEngine, config: SimulatorConfig) -> list[Route]:
    assert isinstance(config.account, CmppAccount)
    api = CmppApi(engine, config.account)

    async def submit(request: Request) -> Response:
        params = dict(await form_params(request))
        return await paced(engine, lambda: api.submit(params))

    async def reports(request: Request) -> Response:
        return api.pull(dict(await form_params(request)))

    async def balance(request: Request) -> Response:
        return api.balance(dict(await form_params(request)))

    return [
        Route("/cmpp/submit", submit, methods=["POST"]),
        Route("/cmpp/reports", reports, methods=["GET"]),
        Route("/cmpp/balance", balance, methods=["GET"]),
    ]
