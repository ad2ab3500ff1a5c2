"""Status-report degradation over HTTP (scope `operator`): show it, set a level, clear it.

Handlers validate and delegate to the DegradationService on `app.state.service.degradation`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from controlplane.actions.degradation import DegradationRequestError, DegradationService
from controlplane.web.security import require_scope
from smsplatform.contracts import DegradationLevel
from smsplatform.http.errors import ApiError
from smsplatform.http.responses import JsonResponse
from smsplatform.http.tokens import Principal

router = APIRouter()
Operator = Annotated[Principal, Depends(require_scope("operator"))]


class ManualLevelIn(BaseModel):
    level: DegradationLevel
    until: AwareDatetime
    reason: str = Field(min_length=1, max_length=4096)
    # Only for `sample`; the configured ratio when left out.
    sample_ratio: float | None = Field(None, gt=0, le=1)


def _degradation(request: Request) -> DegradationService:
    service: DegradationService = request.app.state.service.degradation
    return service


async def _state(service: DegradationService, history: int) -> dict[str, Any]:
    versions = await asyncio.to_thread(service.history, history)
    current = service.current
    manual = service.controller.manual
    return {
        "current": current.to_json() if current else None,
        "manual": None
        if manual is None
        else {
            "level": manual.level,
            "until": manual.until.isoformat(),
            "operator": manual.operator,
            "reason": manual.reason,
        },
        "automatic_level": service.controller.automatic.level,
        "history": [version.to_json() for version in versions],
    }


@router.get("/v1/degradation")
async def show_degradation(
    request: Request, _: Operator, history: Annotated[int, Query(ge=0, le=1000)] = 10
) -> JsonResponse:
    return JsonResponse(await _state(_degradation(request), history))


@router.put("/v1/degradation/manual")
async def set_degradation(body: ManualLevelIn, request: Request, who: Operator) -> JsonResponse:
    service = _degradation(request)
    try:
        await service.set_manual(
            body.level,
            until=body.until,
            reason=body.reason,
            operator=who.name,
            sample_ratio=body.sample_ratio,
        )
    except DegradationRequestError as exc:
        raise ApiError(422, str(exc), field=exc.field) from None
    return JsonResponse(await _state(service, 1))


@router.delete("/v1/degradation/manual")
async def clear_degradation(request: Request, who: Operator) -> JsonResponse:
    service = _degradation(request)
    try:
        await service.clear_manual(who.name)
    except DegradationRequestError as exc:
        raise ApiError(404, str(exc), field=exc.field) from None
    return JsonResponse(await _state(service, 1))
