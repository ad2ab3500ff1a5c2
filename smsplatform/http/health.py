"""The /healthz answer every service gives: its checks, and each bus consumer's state."""

from __future__ import annotations

from collections.abc import Mapping

from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.http.responses import JsonResponse


def health_response(checks: Mapping[str, bool], consumers: LivenessRegistry | None) -> JsonResponse:
    """200 when every check passes and every consumer is up; else 503 naming what is not.

    `consumers` is None for a service without bus consumers (the send API).
    """
    body_checks = dict(checks)
    body: dict[str, object] = {}
    if consumers is not None:
        statuses = consumers.statuses()
        failing = [status.name for status in statuses if status.state != "up"]
        body_checks["consumers"] = not failing
        body["failing_consumers"] = failing
        body["consumers"] = {status.name: status.to_json() for status in statuses}
    healthy = all(body_checks.values())
    body = {"status": "ok" if healthy else "unhealthy", "checks": body_checks, **body}
    return JsonResponse(body, status_code=200 if healthy else 503)
