"""The simulator's own endpoints: swap the plan, read state, flush receipts, health, metrics."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.responses import Response

from smsplatform.config.yamlsource import ConfigError
from smsplatform.http.errors import ApiError
from testbench.simulators.engine import PlanRejected, SimulatorEngine
from testbench.simulators.plan import FaultPlan, parse_plan, plan_from_yaml
from testbench.simulators.pusher import ReceiptPusher
from testbench.simulators.web import json_response


def apply_plan(engine: SimulatorEngine, plan: FaultPlan | dict[str, Any]) -> FaultPlan:
    """Validate and apply a plan; raises ConfigError or PlanRejected naming the field."""
    parsed = plan if isinstance(plan, FaultPlan) else parse_plan(plan)
    engine.set_plan(parsed)
    return parsed


def control_router(
    engine: SimulatorEngine, pusher: ReceiptPusher, registry: CollectorRegistry
) -> APIRouter:
    router = APIRouter()

    @router.post("/_sim/plan")
    async def replace_plan(request: Request) -> Response:
        """A new plan as JSON (or YAML with a yaml content type); 422 names the bad field."""
        body = await request.body()
        try:
            if "yaml" in request.headers.get("content-type", ""):
                plan = plan_from_yaml(body.decode("utf-8"), "<request body>")
            else:
                try:
                    data = orjson.loads(body) if body else {}
                except orjson.JSONDecodeError as exc:
                    raise ApiError(422, "invalid plan", field=None, detail=str(exc)) from None
                plan = parse_plan(data, "<request body>")
            apply_plan(engine, plan)
        except ConfigError as exc:
            first = exc.problems[0]
            problems = [{"field": p.key or None, "detail": p.message} for p in exc.problems]
            raise ApiError(
                422,
                "invalid plan",
                field=first.key or None,
                detail=first.message,
                problems=problems,
            ) from None
        except PlanRejected as exc:
            raise ApiError(422, "invalid plan", field=exc.field, detail=exc.message) from None
        return json_response({"applied": True, "plan": plan.model_dump(mode="json")})

    @router.get("/_sim/plan")
    async def current_plan() -> Response:
        return json_response(engine.plan.model_dump(mode="json"))

    @router.get("/_sim/state")
    async def state() -> Response:
        return json_response(engine.state())

    @router.get("/_sim/balance")
    async def balance() -> Response:
        """The balance in one shape for every dialect (C: Alibaba has no SMS balance API)."""
        return json_response(engine.balance().as_dict())

    @router.post("/_sim/flush")
    async def flush() -> Response:
        """Push every due receipt now, ignoring the batching interval."""
        pushed = await pusher.deliver_due(force=True)
        return json_response({"pushed": pushed, "state": engine.state()})

    @router.get("/healthz")
    async def healthz() -> Response:
        return json_response({"status": "ok", "dialect": engine.profile.name})

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
