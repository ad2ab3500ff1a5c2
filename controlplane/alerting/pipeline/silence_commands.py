"""`smsctl silence add|ls|expire`: the command functions, talking to the silences API over HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from controlplane.alerting.config.matchers import parse_matcher
from controlplane.api_client import call_api


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
    result: dict[str, Any] = call_api(base_url, token, "POST", "/v1/silences", body)
    return result


def list_silences(base_url: str, token: str) -> list[dict[str, Any]]:
    silences: list[dict[str, Any]] = call_api(base_url, token, "GET", "/v1/silences")["silences"]
    return silences


def expire_silence(base_url: str, token: str, silence_id: str) -> dict[str, Any]:
    result: dict[str, Any] = call_api(base_url, token, "DELETE", f"/v1/silences/{silence_id}")
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
