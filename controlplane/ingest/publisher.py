"""Hands accepted events to the bus in chunks, returning once the bus holds all of them."""

from __future__ import annotations

from controlplane.bus import Bus
from controlplane.contracts import EventT, encode_batch


class EventPublisher:
    """Publishes batches of one kind of event as msgpack chunks on that kind's subject."""

    def __init__(self, bus: Bus, chunk_events: int) -> None:
        self._bus = bus
        self._chunk_events = chunk_events

    async def publish(self, subject: str, events: list[EventT]) -> None:
        size = self._chunk_events
        payloads = [encode_batch(events[i : i + size]) for i in range(0, len(events), size)]
        await self._bus.publish_many(subject, payloads)
