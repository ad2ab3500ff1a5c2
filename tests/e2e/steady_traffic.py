"""Steady traffic through the send API, every accepted message id recorded.

Each tick sends the messages due by then, spread evenly over the three message classes and the
three carriers, so every route carries traffic; each recipient is a number of its own, so no
per-number limit comes into play. A run may be limited to some message classes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

# A mainland prefix per carrier (cmcc, cucc, ctcc).
PREFIX_BY_CARRIER = {"cmcc": "139", "cucc": "186", "ctcc": "189"}
# One demo template per message class, with its parameters.
TEMPLATE_BY_CLASS = {
    "otp": ("otp-code", {"code": "246810"}),
    "notification": ("order-shipped", {"order": "A1001", "tracking": "SF123"}),
    "marketing": ("festival-sale", {"discount": "8"}),
}
TICK_S = 0.1


@dataclass
class AcceptedTraffic:
    """What the API accepted: message id → (carrier, message class)."""

    messages: dict[str, tuple[str, str]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # bodies of refused requests

    def by_route(self) -> Counter[tuple[str, str]]:
        return Counter(self.messages.values())


class SteadyTraffic:
    """Sends `rate` messages/s until stopped; `rate` may change while it runs."""

    def __init__(
        self, api_url: str, token: str, rate: float, run_id: int, classes: tuple[str, ...]
    ) -> None:
        self.rate = rate
        self.accepted = AcceptedTraffic()
        self._api_url = api_url
        self._token = token
        # Numbers differ per run (run_id) and per message (the counter).
        self._numbers = itertools.count(run_id * 10_000_000)
        self._routes = itertools.cycle(
            [(cls, carrier) for cls in classes for carrier in PREFIX_BY_CARRIER]
        )
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the batch being sent (its ids are recorded), then send no more."""
        self._stopping.set()

    async def run(self) -> None:
        headers = {"Authorization": f"Bearer {self._token}"}
        async with httpx.AsyncClient(base_url=self._api_url, headers=headers, timeout=10) as http:
            # Messages owed at the current rate since the last tick: a new rate applies from now.
            last, owed = time.monotonic(), 0.0
            while not self._stopping.is_set():
                now = time.monotonic()
                owed, last = owed + (now - last) * self.rate, now
                if owed >= 1:
                    await self._send(http, int(owed))
                    owed -= int(owed)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), TICK_S)

    async def _send(self, http: httpx.AsyncClient, count: int) -> None:
        recipients: dict[str, list[dict[str, str]]] = {cls: [] for cls in TEMPLATE_BY_CLASS}
        for _ in range(count):
            message_class, carrier = next(self._routes)
            number = next(self._numbers)
            phone = f"+86{PREFIX_BY_CARRIER[carrier]}{number % 100_000_000:08d}"
            recipients[message_class].append({"phone": phone})
        batches = [
            http.post(
                "/v1/messages/batch",
                json={
                    "template_id": TEMPLATE_BY_CLASS[cls][0],
                    "params": TEMPLATE_BY_CLASS[cls][1],
                    "recipients": people,
                },
            )
            for cls, people in recipients.items()
            if people
        ]
        for answer in await asyncio.gather(*batches):
            if answer.status_code != 202:
                self.accepted.refused.append(answer.text)
                continue
            reply = answer.json()
            self.accepted.refused.extend(str(r) for r in reply["rejected"])
            for message in reply["messages"]:
                self.accepted.messages[message["message_id"]] = (
                    message["carrier"],
                    message["message_class"],
                )


@asynccontextmanager
async def steady_traffic(
    api_url: str,
    token: str,
    rate: float,
    run_id: int = 1,
    classes: tuple[str, ...] = tuple(TEMPLATE_BY_CLASS),
) -> AsyncIterator[SteadyTraffic]:
    """Traffic flows while the block runs (or until `stop()`); on exit the sender finishes the
    batch in flight, so every message the API accepted is in `accepted`."""
    traffic = SteadyTraffic(api_url, token, rate, run_id, classes)
    task = asyncio.create_task(traffic.run(), name="e2e-traffic")
    try:
        yield traffic
    finally:
        traffic.stop()
        await task
