"""The HTTP side every supplier adapter shares: a pooled client, timing, network-error outcomes."""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from smsplatform.clock import Clock
from smsplatform.http.wire import ConnectionPool
from suppliers.base import SubmitErrorClass, SubmitOutcome
from suppliers.settings import SupplierSettings
from suppliers.submit_codes import class_for_http_status

log = logging.getLogger(__name__)

# A connection idle this long is closed by us, before the server closes it: most servers drop
# idle connections after 2-5 s, and a request sent just as the server closes fails with no
# answer, which for a non-idempotent submit means "maybe sent" (a TIMEOUT, not retried).
IDLE_EXPIRY_S = 2.5
# Our own codes for failures that carry no supplier code (lower case, unlike any supplier's).
TIMEOUT_CODE = "timeout"
CONNECT_ERROR_CODE = "connect_error"
TRANSPORT_ERROR_CODE = "transport_error"


class BalanceUnavailable(Exception):
    """The balance API did not answer with a balance (network error, error status, bad body)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A supplier's HTTP answer, how long it took, and the `Retry-After` it asked for."""

    response: httpx.Response
    latency_ms: float
    retry_after_s: float | None

    def json_object(self) -> dict[str, object] | None:
        """The body as a JSON object, or None when it is not one (e.g. a proxy's HTML page)."""
        return _json_object(self.response.content)

    def failure(
        self, code: str, error_class: SubmitErrorClass, message: str | None
    ) -> SubmitOutcome:
        """A rejected submit with the supplier's code, class and message."""
        return SubmitOutcome(
            accepted=False,
            latency_ms=self.latency_ms,
            error_code=code,
            error_class=error_class,
            error_message=message,
            retry_after_s=self.retry_after_s,
        )

    def unreadable(self) -> SubmitOutcome:
        """An answer whose body names no code: classed by the HTTP status alone.

        A 2xx we cannot read may still have been taken, so its outcome is as unknown as after a
        timeout (and is classed so); an error status without a code is classed by its status.
        """
        status = self.response.status_code
        error_class = (
            SubmitErrorClass.TIMEOUT if self.response.is_success else class_for_http_status(status)
        )
        return self.failure(f"http_{status}", error_class, self.response.text[:200] or None)


class SupplierHttp:
    """One supplier account's HTTP client: up to `max_concurrency` connections, explicit timeouts.

    httpx builds the requests (base URL, bodies, auth); each one is sent on a lean keep-alive
    connection from smsplatform.http.wire's pool, lent to one request at a time, warmest first.
    httpx's own send path (client, httpcore pool, anyio) cost dispatch more CPU per submit than
    everything else it does for the message.
    """

    def __init__(
        self,
        base_url: str,
        timeout_s: float,
        max_concurrency: int,
        clock: Clock,
        auth: httpx.Auth | None = None,
    ) -> None:
        self._clock = clock
        self._timeout = httpx.Timeout(timeout_s)
        self._auth = auth
        # Its headers, base URL and timeout are what every request carries; it never sends one.
        self.client = httpx.AsyncClient(base_url=base_url, timeout=self._timeout, trust_env=False)
        self._default_headers = list(self.client.headers.multi_items())
        # Absolute URL per path: joining the base URL anew cost a third of a submit's CPU.
        self._urls: dict[str, httpx.URL] = {}
        base = httpx.URL(base_url)
        # One TLS context for every connection: building one loads the CA bundle (milliseconds).
        tls = httpx.create_ssl_context(trust_env=False) if base.scheme == "https" else None
        self._pool = ConnectionPool(base, tls, IDLE_EXPIRY_S, max_concurrency)

    @classmethod
    def for_supplier(
        cls, settings: SupplierSettings, clock: Clock, auth: httpx.Auth | None = None
    ) -> SupplierHttp:
        """The client for a configured supplier: its base URL, timeout and concurrency."""
        return cls(settings.base_url, settings.timeout_s, settings.max_concurrency, clock, auth)

    def build_request(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        data: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        """The request `client.build_request` would make (same URL, headers and body), built
        without re-joining the base URL each time."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = self.client.build_request(method, path).url
        merged = httpx.Headers(self._default_headers)
        if headers:
            merged.update(headers)
        return httpx.Request(
            method,
            url,
            params=params,
            headers=merged,
            content=content,
            data=data,
            extensions={"timeout": self._timeout.as_dict()},
        )

    async def exchange(self, request: httpx.Request) -> Answer | SubmitOutcome:
        """Send `request`; the answer, or the outcome of a network failure (never raises for one).

        A request that never left (connect error or timeout, or no free pooled connection in
        time) is safe to send elsewhere: RETRIABLE. A request that may have reached the supplier
        before the line went quiet or broke is TIMEOUT: the supplier may have taken it, and
        submits are not idempotent, so only OTP is worth the duplicate risk (§7.2).
        """
        started = self._clock.monotonic()
        try:
            response = await self._send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return self._network_failure(
                started, CONNECT_ERROR_CODE, SubmitErrorClass.RETRIABLE, exc, request
            )
        except httpx.TimeoutException as exc:
            return self._network_failure(
                started, TIMEOUT_CODE, SubmitErrorClass.TIMEOUT, exc, request
            )
        except httpx.TransportError as exc:
            return self._network_failure(
                started, TRANSPORT_ERROR_CODE, SubmitErrorClass.TIMEOUT, exc, request
            )
        retry_after = retry_after_s(response.headers.get("retry-after"), self._clock.now())
        return Answer(response, self._elapsed_ms(started), retry_after)

    async def fetch_json(self, request: httpx.Request) -> dict[str, object]:
        """Send a read-only API request (balance); its 2xx JSON object, else BalanceUnavailable."""
        try:
            response = await self._send(request)
        except httpx.HTTPError as exc:
            raise BalanceUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return _json_object_or_raise(response)

    async def aclose(self) -> None:
        await self._pool.aclose()
        await self.client.aclose()

    def _elapsed_ms(self, started: float) -> float:
        return max(0.0, (self._clock.monotonic() - started) * 1000.0)

    def _network_failure(
        self,
        started: float,
        code: str,
        error_class: SubmitErrorClass,
        exc: Exception,
        request: httpx.Request,
    ) -> SubmitOutcome:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        # Debug only: the outcome carries the error, and dispatch counts and logs outcomes.
        log.debug(
            "event=supplier_network_error url=%s code=%s class=%s error=%r",
            request.url,
            code,
            error_class,
            message,
        )
        return SubmitOutcome(
            accepted=False,
            latency_ms=self._elapsed_ms(started),
            error_code=code,
            error_class=error_class,
            error_message=message,
        )

    async def _send(self, request: httpx.Request) -> httpx.Response:
        if self._auth is not None:
            # The first step of the auth flow adds its header (Basic: the only one used here).
            request = next(self._auth.sync_auth_flow(request))
        return await self._pool.send(request, self._timeout)


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """`Retry-After` in seconds (a delta or an HTTP date), or None when absent or unreadable."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _json_object(content: bytes) -> dict[str, object] | None:
    try:
        decoded = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return decoded if isinstance(decoded, dict) else None


def _json_object_or_raise(response: httpx.Response) -> dict[str, object]:
    if not response.is_success:
        raise BalanceUnavailable(f"HTTP {response.status_code}: {response.text[:200]}")
    decoded = _json_object(response.content)
    if decoded is None:
        raise BalanceUnavailable(f"body is not a JSON object: {response.text[:200]}")
    return decoded
