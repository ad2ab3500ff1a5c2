"""A memory bus whose fetches or publishes fail on demand, as behind a failing network."""

from __future__ import annotations

from collections.abc import Sequence

from controlplane.bus import Delivery, MemoryBus, Subscription


class BusFault(ConnectionError):
    """What a failing fetch or publish raises."""


class FaultyBus(MemoryBus):
    """A MemoryBus (so every delivery, ack and redelivery is the real thing) with faults to turn
    on: the next `n` fetches fail, or every fetch or publish fails until `heal()`."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.fetches_to_fail = 0
        self.fetch_down = False
        self.publish_down = False
        self.failed_fetches = 0

    def fail_next_fetches(self, count: int) -> None:
        self.fetches_to_fail = count

    def heal(self) -> None:
        self.fetches_to_fail = 0
        self.fetch_down = False
        self.publish_down = False

    async def subscribe(  # type: ignore[override]
        self, subject: str, durable: str, *, ack_wait: float = 30.0
    ) -> Subscription:
        inner = await super().subscribe(subject, durable, ack_wait=ack_wait)
        return _FaultySubscription(self, inner)

    async def publish(self, subject: str, payload: bytes) -> None:
        if self.publish_down:
            raise BusFault("nats: no servers available for connection")
        await super().publish(subject, payload)

    async def publish_many(self, subject: str, payloads: Sequence[bytes]) -> None:
        if self.publish_down:
            raise BusFault("nats: no servers available for connection")
        await super().publish_many(subject, payloads)

    def take_fetch_fault(self) -> bool:
        if self.fetch_down:
            self.failed_fetches += 1
            return True
        if self.fetches_to_fail > 0:
            self.fetches_to_fail -= 1
            self.failed_fetches += 1
            return True
        return False


class _FaultySubscription:
    def __init__(self, bus: FaultyBus, inner: Subscription) -> None:
        self._bus = bus
        self._inner = inner

    async def fetch(self, max_messages: int, timeout: float) -> list[Delivery]:
        if self._bus.take_fetch_fault():
            raise BusFault("nats: connection closed")
        return await self._inner.fetch(max_messages, timeout)

    async def close(self) -> None:
        await self._inner.close()
