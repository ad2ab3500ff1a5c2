"""Silences over HTTP: create, list and expire; handlers validate and delegate to the repository.

The app puts a SilenceRepository on `app.state.silences` (and may put a Clock on `app.state.clock`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, Field

from controlplane.alerting.config.matchers import Matcher, MatcherError, MatchOp
from controlplane.alerting.pipeline.silences import Silence, SilenceRepository
from controlplane.web.security import require_scope
from smsplatform.clock import Clock, system_clock
from smsplatform.http.errors import ApiError
from smsplatform.http.responses import JsonResponse
from smsplatform.http.tokens import Principal

router = APIRouter()
Operator = Annotated[Principal, Depends(require_scope("operator"))]


class MatcherIn(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    op: Literal["=", "!=", "=~", "!~"] = "="
    value: str = Field(max_length=1024)


class SilenceIn(BaseModel):
    matchers: list[MatcherIn] = Field(min_length=1)
    starts_at: AwareDatetime | None = None  # now when omitted
    ends_at: AwareDatetime
    created_by: str = Field(min_length=1, max_length=255)
    comment: str = Field(default="", max_length=4096)


def _repository(request: Request) -> SilenceRepository:
    repository: SilenceRepository = request.app.state.silences
    return repository


def _clock(request: Request) -> Clock:
    clock: Clock = getattr(request.app.state, "clock", system_clock)
    return clock


def silence_json(silence: Silence, now: datetime) -> dict[str, Any]:
    return {
        "id": silence.id,
        "matchers": [m.to_json() for m in silence.matchers],
        "starts_at": silence.starts_at.isoformat(),
        "ends_at": silence.ends_at.isoformat(),
        "created_by": silence.created_by,
        "comment": silence.comment,
        "state": silence.state(now),
        "updated_at": silence.updated_at.isoformat(),
    }


def _matchers(raw: list[MatcherIn]) -> list[Matcher]:
    matchers = []
    for index, matcher in enumerate(raw):
        try:
            matchers.append(Matcher.build(matcher.name, MatchOp(matcher.op), matcher.value))
        except MatcherError as exc:
            raise ApiError(422, str(exc), field=f"matchers.{index}.value") from exc
    return matchers


@router.post("/v1/silences")
async def create_silence(body: SilenceIn, request: Request, _: Operator) -> JsonResponse:
    now = _clock(request).now()
    starts_at = body.starts_at or now
    if body.ends_at <= starts_at:
        raise ApiError(422, "ends_at must be after starts_at", field="ends_at")
    if body.ends_at <= now:
        raise ApiError(422, "ends_at is in the past", field="ends_at")
    matchers = _matchers(body.matchers)
    silence = _repository(request).add(
        matchers, starts_at, body.ends_at, body.created_by, body.comment, now
    )
    return JsonResponse(silence_json(silence, now), status_code=201)


@router.get("/v1/silences")
async def list_silences(request: Request, _: Operator) -> JsonResponse:
    now = _clock(request).now()
    silences = _repository(request).all()
    return JsonResponse({"silences": [silence_json(s, now) for s in silences]})


@router.delete("/v1/silences/{silence_id}")
async def expire_silence(silence_id: str, request: Request, _: Operator) -> JsonResponse:
    now = _clock(request).now()
    silence = _repository(request).expire(silence_id, now)
    if silence is None:
        raise ApiError(404, f"no silence {silence_id!r}", field="id")
    return JsonResponse(silence_json(silence, now))
