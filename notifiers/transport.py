"""HTTP for the channels: one request whose network failure becomes a RETRY result, not a raise."""

from __future__ import annotations

import logging
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from notifiers.base import NotifyResult, Outcome

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def new_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=DEFAULT_TIMEOUT)


async def request(
    client: httpx.AsyncClient, channel: str, method: str, url: str, **kwargs: Any
) -> httpx.Response | NotifyResult:
    """The response, or a RETRY result when the service could not be reached or did not answer."""
    try:
        return await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        log.warning("notify transport error channel=%s error=%r", channel, exc)
        return NotifyResult(Outcome.RETRY, channel, f"transport error: {exc!r}", "transport")


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def retry_after_s(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (delta or HTTP date), None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        date = parsedate_to_datetime(response.headers.get("date", value))
    except (TypeError, ValueError):
        return None
    return max((when - date).total_seconds(), 0.0)
