"""Doubles for the clock-skew resend tests: a clock off for its first read, and an answer log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson

from smsplatform.clock import Clock


class SkewedFirstReadClock:
    """`base`'s time, but off by `skew_s` on the first `now()`: a host clock resynced after that.

    The notifiers read `now()` once per request they sign, so only the first request is skewed.
    """

    def __init__(self, base: Clock, skew_s: float) -> None:
        self._base = base
        self._skew = timedelta(seconds=skew_s)
        self.reads = 0

    def now(self) -> datetime:
        self.reads += 1
        return self._base.now() + (self._skew if self.reads == 1 else timedelta())

    def monotonic(self) -> float:
        return self._base.monotonic()


class AnswerLog:
    """The JSON body of every answer a client got, in order: what the service said each time."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []

    def client(self) -> httpx.AsyncClient:
        """A client that records each answer; the caller closes it."""
        return httpx.AsyncClient(event_hooks={"response": [self._record]})

    async def _record(self, response: httpx.Response) -> None:
        await response.aread()
        self.bodies.append(orjson.loads(response.content))
