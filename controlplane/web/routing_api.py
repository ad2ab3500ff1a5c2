"""The routing table over HTTP: read it, its versions and the health model; operators' commands.

Reads and commands need the `operator` scope. Handlers validate and delegate to the cut-over
service (app.state.service.cutover); a command that cannot apply is a 4xx naming the field.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from controlplane.actions.cutover_service import CutoverService
from controlplane.actions.route_commands import RouteCommand, RouteCommandError, Verb
from controlplane.web.security import require_scope
from smsplatform.contracts import MessageClass
from smsplatform.http.errors import ApiError
from smsplatform.http.responses import JsonResponse
from smsplatform.http.tokens import Principal

router = APIRouter()
Operator = Annotated[Principal, Depends(require_scope("operator"))]


class RouteCommandIn(BaseModel):
    supplier: str = Field(min_length=1, max_length=128)
    # pin and unpin need both; drain and restore apply to every matching route without them.
    carrier: str | None = Field(None, min_length=1, max_length=128)
    message_class: MessageClass | None = None
    reason: str = Field("", max_length=1024)


def _cutover(request: Request) -> CutoverService:
    service: CutoverService = request.app.state.service.cutover
    if service.table is None:
        raise ApiError(
            503, "this control plane owns no routing table (no routes under cutover.routes)"
        )
    return service


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value)


@router.get("/v1/routing")
async def routing_table(request: Request, _: Operator) -> JsonResponse:
    """The table in force, with the evidence of the change that made it."""
    service = _cutover(request)
    latest = await asyncio.to_thread(service.store.latest)
    return JsonResponse(latest.to_json() if latest is not None else _plain(service.table))


@router.get("/v1/routing/versions")
async def routing_versions(
    request: Request, _: Operator, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> JsonResponse:
    """The newest versions, newest first: who or what changed the table, why, and the values."""
    versions = await asyncio.to_thread(_cutover(request).store.history, limit)
    return JsonResponse({"versions": [version.to_json() for version in versions]})


@router.get("/v1/routing/health")
async def routing_health(request: Request, _: Operator) -> JsonResponse:
    """The health model per (supplier, carrier) and the suppliers automation holds out."""
    service = _cutover(request)
    now = request.app.state.service.clock.now()
    ejections = [
        {
            "carrier": carrier,
            "message_class": message_class,
            "supplier": supplier,
            "ejected_at": record.ejected_at.isoformat(),
            "cause": record.cause.text,
            "canary_step": record.step,
        }
        for (carrier, message_class, supplier), record in sorted(service.policy.ejections.items())
    ]
    return JsonResponse({"health": service.health.snapshot(now), "ejections": ejections})


@router.post("/v1/routing/{verb}")
async def route_command(
    verb: Verb, body: RouteCommandIn, request: Request, who: Operator
) -> JsonResponse:
    """pin: send a route's traffic to one supplier, automation keeps off; unpin: end it;
    drain: take a supplier out of new traffic (every route it is on unless carrier/class say);
    restore: put it back at its configured weight, whatever state it was left in."""
    service = _cutover(request)
    command = RouteCommand(verb, body.supplier, body.carrier, body.message_class, body.reason)
    try:
        table = await service.run_command(command, who.name)
    except RouteCommandError as exc:
        raise ApiError(exc.status, str(exc), field=exc.field) from exc
    return JsonResponse(_plain(table))
