"""A memory bus whose fetches or publishes fail on demand, as behind a failing network."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from smsplatform.bus import Delivery, MemoryBus, Subscription

ANY = "*"


class BusFault(ConnectionError):
    """What a failing fetch or publish raises."""


class FaultyBus(MemoryBus):
    """A MemoryBus (so every delivery, ack and redelivery is the real thing) with faults to turn
    on: a durable's next `n` fetches fail, or its fetches fail until `heal()`; publishes fail
    while `publish_down`. `durable=ANY` means every durable."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._fetches_to_fail: Counter[str] = Counter()
        self._down: set[str] = set()
        self.publish_down = False
        self.failed_fetches: Counter[str] = Counter()

    def fail_next_fetches(self, count: int, durable: str = ANY) -> None:
        self._fetches_to_fail[durable] = count

    def fail_fetches(self, durable: str = ANY) -> None:
        """Every fetch of `durable` fails from now until heal()."""
        self._down.add(durable)

    def heal(self) -> None:
        self._fetches_to_fail.clear()
        self._down.clear()
        self.publish_down = False

    async def subscribe(  # type: ignore[override]
        self, subject: str, durable: str, *, ack_wait: float = 30.0
    ) -> Subscription:
        inner = await super().subscribe(subject, durable, ack_wait=ack_wait)
        return _FaultySubscription(self, durable, inner)

    async def publish(self, subject: str, payload: bytes, *, msg_id: str | None = None) -> None:
        if self.publish_down:
            raise BusFault("nats: no servers available for connection")
        await super().publish(subject, payload, msg_id=msg_id)

    async def publish_many(
        self, subject: str, payloads: Sequence[bytes], *, msg_ids: Sequence[str] | None = None
    ) -> None:
        if self.publish_down:
            raise BusFault("nats: no servers available for connection")
        await super().publish_many(subject, payloads, msg_ids=msg_ids)

    def take_fetch_fault(self, durable: str) -> bool:
        failing = durable in self._down or ANY in self._down
        for key in (durable, ANY):
            if not failing and self._fetches_to_fail[key] > 0:
                self._fetches_to_fail[key] -= 1
                failing = True
        if failing:
            self.failed_fetches[durable] += 1
        return failing


class _FaultySubscription:
    def __init__(self, bus: FaultyBus, durable: str, inner: Subscription) -> None:
        self._bus = bus
        self._durable = durable
        self._inner = inner

    async def fetch(self, max_messages: int, timeout: float) -> list[Delivery]:
        if self._bus.take_fetch_fault(self._durable):
            raise BusFault("nats: connection closed")
        return await self._inner.fetch(max_messages, timeout)

    async def close(self) -> None:
        await self._inner.close()
