"""Hands accepted events to the bus in chunks, returning once the bus holds all of them."""

from __future__ import annotations

import logging

from smsplatform.bus import Bus
from smsplatform.contracts import EventT, encode_batch

log = logging.getLogger(__name__)


class BusUnavailable(Exception):
    """The bus did not take every chunk of a batch: the caller should retry it later."""


class EventPublisher:
    """Publishes batches of one kind of event as msgpack chunks on that kind's subject."""

    def __init__(self, bus: Bus, chunk_events: int) -> None:
        self._bus = bus
        self._chunk_events = chunk_events

    async def publish(self, subject: str, events: list[EventT]) -> None:
        """Returns once the bus holds every event; BusUnavailable when it does not."""
        size = self._chunk_events
        payloads = [encode_batch(events[i : i + size]) for i in range(0, len(events), size)]
        try:
            await self._bus.publish_many(subject, payloads)
        except Exception as exc:
            # Whatever the backend raised (connection lost, no stream, timeout, closed), the
            # client's answer is the same: not taken, try again.
            log.warning(
                "event=ingest_publish_failed subject=%s events=%d error=%r",
                subject,
                len(events),
                exc,
            )
            raise BusUnavailable(f"the bus did not take the events on {subject}") from exc
