"""Rules and alerts over HTTP: rule health, reload, the alerts in force and an alert's history."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from controlplane.engine.alerts import Alert, AlertState
from controlplane.service import ControlPlane
from controlplane.web.security import require_scope
from smsplatform.http.errors import ApiError
from smsplatform.http.responses import JsonResponse
from smsplatform.http.tokens import Principal

router = APIRouter()
Operator = Annotated[Principal, Depends(require_scope("operator"))]


def _service(request: Request) -> ControlPlane:
    service: ControlPlane = request.app.state.service
    return service


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _alert_json(rule_key: str, alert: Alert, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "rule": rule_key,
        "state": alert.state.value,
        "labels": dict(alert.labels),
        "annotations": annotations,
        "value": alert.value,
        "active_since": _time(alert.active_since),
        "started_at": _time(alert.started_at),
        "resolved_at": _time(alert.resolved_at),
        "keep_firing_since": _time(alert.keep_firing_since),
        "last_evaluated_at": _time(alert.last_evaluated_at),
    }


@router.get("/v1/rules")
async def list_rules(request: Request, _: Operator) -> JsonResponse:
    evaluator = _service(request).rules.evaluator
    rules = evaluator.health() if evaluator is not None else []
    body = [
        {
            "rule": health.rule_key,
            "kind": health.kind,
            "source": health.source,
            "health": health.health,
            "last_evaluated_at": _time(health.last_evaluated_at),
            "last_duration_ms": round(health.last_duration_ms, 3),
            "last_error": health.last_error,
        }
        for health in rules
    ]
    return JsonResponse({"rules": body})


@router.post("/v1/rules/reload")
async def reload_rules(request: Request, _: Operator) -> JsonResponse:
    result = await _service(request).rules.reload()
    if not result.ok:
        raise ApiError(
            422,
            "rule files rejected; the running rules are unchanged",
            problems=list(result.errors),
        )
    return JsonResponse({"status": "reloaded", "rules": result.rule_count})


@router.get("/v1/alerts")
async def list_alerts(
    request: Request,
    _: Operator,
    state: Annotated[AlertState | None, Query()] = None,
    label: Annotated[list[str] | None, Query(description="name=value; repeat for more")] = None,
) -> JsonResponse:
    body = alerts_in_force(_service(request), state, _label_filter(label or []))
    return JsonResponse({"alerts": body})


def alerts_in_force(
    service: ControlPlane, state: AlertState | None = None, wanted: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The live alerts as GET /v1/alerts serves them (the console shows the same): the rule
    engine's, and those posted to POST /api/v2/alerts that fire now."""
    evaluator = service.rules.evaluator
    alerts = list(evaluator.live_alerts()) if evaluator is not None else []
    if service.alerting is not None:
        posted = service.alerting.stage.posted_in_force()
        alerts += [(g.rule_key, g.alert, g.annotations) for g in posted]
    return [
        _alert_json(rule_key, alert, dict(annotations))
        for rule_key, alert, annotations in alerts
        if (state is None or alert.state is state)
        and all(alert.labels.get(k) == v for k, v in (wanted or {}).items())
    ]


@router.get("/v1/alerts/{fingerprint}")
async def get_alert(request: Request, fingerprint: str, _: Operator) -> JsonResponse:
    body = await alert_with_history(_service(request), fingerprint)
    if body is None:
        raise ApiError(404, f"no alert with fingerprint {fingerprint!r}", field="fingerprint")
    return JsonResponse(body)


async def alert_with_history(service: ControlPlane, fingerprint: str) -> dict[str, Any] | None:
    """One alert, live or stored, with its history as GET /v1/alerts/{fp} serves it; or None."""
    evaluator = service.rules.evaluator
    live = next(
        (
            item
            for item in (evaluator.live_alerts() if evaluator else [])
            if item[1].fingerprint == fingerprint
        ),
        None,
    )
    stored = await asyncio.to_thread(service.alerts.get, fingerprint)
    if live is None and stored is None:
        return None
    if live is not None:
        body = _alert_json(live[0], live[1], dict(live[2]))
    else:
        assert stored is not None
        body = _alert_json(stored.rule_key, stored.alert, dict(stored.annotations))
    history = await asyncio.to_thread(service.alerts.history, fingerprint)
    body["history"] = [
        {
            "at": _time(e.at),
            "kind": e.kind,
            "from": e.from_state,
            "to": e.to_state,
            "value": e.value,
            "detail": dict(e.detail),
        }
        for e in history
    ]
    return body


def _label_filter(pairs: list[str]) -> dict[str, str]:
    wanted = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ApiError(422, f"label filter {pair!r} is not name=value", field="label")
        wanted[name] = value
    return wanted
