"""HTTP for the channels: one request whose network failure becomes a RETRY result, not a raise."""

from __future__ import annotations

import logging
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from notifiers.base import NotifyResult, Outcome
from smsplatform.http.wire import LeanTransport

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# Closed by us before the service's end closes it (most drop idle connections after 2-5 s): a
# request sent as the server closes fails unanswered, and the notification then waits a retry.
IDLE_EXPIRY_S = 2.5
# Connections kept per service endpoint, as httpx's default keep-alive limit.
MAX_CONNECTIONS_PER_ORIGIN = 20


def new_client() -> httpx.AsyncClient:
    """The channels' client: httpx builds each request, a lean keep-alive pool sends it.

    httpx's own pool (httpcore, anyio) cost a notification about a millisecond of CPU, most of
    a 500-group flush; the lean one a fifth of that.
    """
    transport = LeanTransport(IDLE_EXPIRY_S, MAX_CONNECTIONS_PER_ORIGIN)
    return httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, transport=transport)


async def request(
    client: httpx.AsyncClient, channel: str, method: str, url: str, **kwargs: Any
) -> httpx.Response | NotifyResult:
    """The response, or a RETRY result when the service could not be reached or did not answer."""
    return await send_request(client, channel, client.build_request(method, url, **kwargs))


async def send_request(
    client: httpx.AsyncClient, channel: str, built: httpx.Request
) -> httpx.Response | NotifyResult:
    """`request` for a request built already (one the channel builds once per endpoint)."""
    try:
        return await client.send(built)
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
