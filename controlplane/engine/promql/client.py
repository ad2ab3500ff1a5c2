"""Instant PromQL queries through prometheus-api-client, with explicit timeouts and typed errors.

`PrometheusConnect` is synchronous; `query_instant` runs it in a worker thread so the engine's
event loop never blocks on Prometheus. A failed query always raises `PromQLError` — it never
looks like an empty result, because an empty result resolves every alert of the rule.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from controlplane.settings import PrometheusSettings


class PromQLErrorKind(StrEnum):
    """Why a query failed; also the `reason` label of the evaluation-failure metric."""

    DOWN = "down"  # not reachable, or up but not serving queries yet
    TIMEOUT = "timeout"  # no answer in time, from us or from Prometheus' own query timeout
    BAD_QUERY = "bad_query"  # Prometheus rejected the expression, or its result is no vector
    EXECUTION = "execution"  # the expression failed while running (e.g. many-to-many matching)
    FAILED = "failed"  # any other error answer
    LIMIT = "limit"  # the result held more alerts than the rule group's `limit`


class PromQLError(Exception):
    """A query that produced no result; `message` is Prometheus' own text when it sent one."""

    def __init__(self, kind: PromQLErrorKind, message: str) -> None:
        super().__init__(f"{kind.value}: {message}")
        self.kind = kind
        self.message = message


@dataclass(frozen=True, slots=True)
class PromSample:
    """One series of an instant query's result (a scalar result is one series without labels)."""

    labels: dict[str, str] = field(default_factory=dict)
    value: float = 0.0


# Prometheus' `errorType` values (web/api/v1) mapped to ours.
_ERROR_TYPES = {
    "bad_data": PromQLErrorKind.BAD_QUERY,
    "execution": PromQLErrorKind.EXECUTION,
    "timeout": PromQLErrorKind.TIMEOUT,
    "unavailable": PromQLErrorKind.DOWN,
}
_RULE_RESULT_TYPES = frozenset({"vector", "scalar"})


def error_from_answer(status: int, body: bytes) -> PromQLError:
    """The error an HTTP answer other than 200 stands for, keeping Prometheus' own message."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        kind = _ERROR_TYPES.get(str(answer.get("errorType")), PromQLErrorKind.FAILED)
        return PromQLError(kind, answer["error"])
    text = body.decode("utf-8", "replace").strip()[:200]
    # A bare 502/503 comes from a Prometheus still starting or a proxy with no Prometheus behind.
    if status in (502, 503):
        return PromQLError(PromQLErrorKind.DOWN, f"HTTP {status}: {text}")
    if status == 504:
        return PromQLError(PromQLErrorKind.TIMEOUT, f"HTTP {status}: {text}")
    return PromQLError(PromQLErrorKind.FAILED, f"HTTP {status}: {text}")


def _check_query_answer(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """requests response hook: turn an error answer into `PromQLError` with Prometheus' text.

    prometheus-api-client would raise its own exception holding the body's repr; reading the
    body here keeps Prometheus' message and errorType intact.
    """
    if response.is_redirect:
        return
    if response.status_code != 200:
        raise error_from_answer(response.status_code, response.content)
    try:
        result_type = response.json()["data"]["resultType"]
    except (ValueError, KeyError, TypeError):
        raise PromQLError(
            PromQLErrorKind.FAILED, f"not a Prometheus query answer: {response.text[:200]!r}"
        ) from None
    if result_type not in _RULE_RESULT_TYPES:
        raise PromQLError(
            PromQLErrorKind.BAD_QUERY,
            f"the expression returns a {result_type}; a rule needs an instant vector or a scalar",
        )


def _samples(result: Any) -> list[PromSample]:
    if isinstance(result, list) and len(result) == 2 and isinstance(result[1], str):
        return [PromSample({}, float(result[1]))]  # scalar: [time, "value"]
    return [PromSample(dict(series["metric"]), float(series["value"][1])) for series in result]


class PrometheusClient:
    """Instant queries against one Prometheus; a context manager that closes its HTTP session."""

    def __init__(
        self, url: str, *, timeout_s: float = 10.0, connect_timeout_s: float = 2.0
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        session = requests.Session()
        session.hooks["response"].append(_check_query_answer)
        # No retries: a failed evaluation is reported and the next interval tries again, so one
        # evaluation never takes longer than its timeouts. read=False re-raises a read timeout as
        # such instead of wrapping it in a connection error (requests' own default).
        self._connect = PrometheusConnect(
            url=self.url, session=session, retry=Retry(total=0, read=False)
        )

    @classmethod
    def from_settings(cls, settings: PrometheusSettings) -> PrometheusClient:
        return cls(settings.url, timeout_s=settings.query_timeout_s)

    async def query_instant(self, expr: str, at: datetime) -> list[PromSample]:
        """`expr` evaluated at `at`; raises `PromQLError`, never returns [] on failure."""
        return await asyncio.to_thread(self._query_instant, expr, at)

    def _query_instant(self, expr: str, at: datetime) -> list[PromSample]:
        # Prometheus stops the query at our timeout, so its own timeout message arrives before
        # the client gives up; the read timeout leaves it a margin to do so.
        params = {"time": f"{at.timestamp():.3f}", "timeout": f"{self.timeout_s:g}s"}
        timeouts = (self.connect_timeout_s, self.timeout_s + min(1.0, self.timeout_s / 4))
        try:
            # Its docstring says int seconds; requests, which gets it, takes a (connect, read) pair.
            result = self._connect.custom_query(expr, params=params, timeout=timeouts)
        except requests.exceptions.ConnectTimeout as exc:
            raise PromQLError(PromQLErrorKind.DOWN, f"{self.url} did not accept: {exc}") from exc
        except requests.exceptions.Timeout as exc:
            raise PromQLError(
                PromQLErrorKind.TIMEOUT, f"{self.url} did not answer in {self.timeout_s:g}s"
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            raise PromQLError(PromQLErrorKind.DOWN, f"{self.url} unreachable: {exc}") from exc
        except requests.exceptions.RequestException as exc:
            raise PromQLError(PromQLErrorKind.FAILED, f"{self.url}: {exc}") from exc
        try:
            return _samples(result)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise PromQLError(PromQLErrorKind.FAILED, f"unexpected result shape: {exc}") from exc

    def close(self) -> None:
        self._connect.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
