"""`smsctl silence add|ls|expire`: the command functions, talking to the silences API over HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from controlplane.alerting.config.matchers import parse_matcher

TIMEOUT_S = 10.0


class SilenceCommandError(Exception):
    """The API refused the request; the message is its error body."""


def _client(base_url: str, token: str) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"}
    return httpx.Client(base_url=base_url, headers=headers, timeout=TIMEOUT_S)


def _checked(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            body = response.json()
            message = body.get("error", "")
            if body.get("field"):
                message = f"{message} (field {body['field']})"
        except ValueError:
            message = response.text
        raise SilenceCommandError(f"HTTP {response.status_code}: {message}")
    return response.json()


def add_silence(
    base_url: str,
    token: str,
    matchers: Sequence[str],
    duration_s: float,
    created_by: str,
    comment: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Create a silence of `matchers` (e.g. `alertname=SupplierDown`) for `duration_s`."""
    parsed = [parse_matcher(text) for text in matchers]
    start = now or datetime.now(UTC)
    body = {
        "matchers": [m.to_json() for m in parsed],
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(seconds=duration_s)).isoformat(),
        "created_by": created_by,
        "comment": comment,
    }
    with _client(base_url, token) as client:
        result: dict[str, Any] = _checked(client.post("/v1/silences", json=body))
    return result


def list_silences(base_url: str, token: str) -> list[dict[str, Any]]:
    with _client(base_url, token) as client:
        silences: list[dict[str, Any]] = _checked(client.get("/v1/silences"))["silences"]
    return silences


def expire_silence(base_url: str, token: str, silence_id: str) -> dict[str, Any]:
    with _client(base_url, token) as client:
        result: dict[str, Any] = _checked(client.delete(f"/v1/silences/{silence_id}"))
    return result


def format_silences(silences: Sequence[dict[str, Any]]) -> str:
    """One line per silence, as `amtool silence query` prints them: id, matchers, end, creator."""
    header = f"{'ID':<37} {'STATE':<8} {'ENDS AT':<26} {'CREATED BY':<11} MATCHERS  COMMENT"
    lines = [header]
    for silence in silences:
        matchers = " ".join(f"{m['name']}{m['op']}{m['value']!r}" for m in silence["matchers"])
        lines.append(
            f"{silence['id']:<37} {silence['state']:<8} {silence['ends_at']:<26} "
            f"{silence['created_by']:<11} {matchers}  {silence['comment']}"
        )
    return "\n".join(lines)
