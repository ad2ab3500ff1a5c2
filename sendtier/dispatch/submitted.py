"""The "submitted" markers: a message a supplier took is never submitted to a supplier again.

A marker is written once a supplier accepted the message (or, for a non-OTP message, timed out:
it may have sent it, and §7.2 never resends those), before its SubmitResults are published, and
holds those results. A message delivered again (its results' publish failed, so it was never
acked; or the dispatcher died first) finds the marker and publishes the stored results instead
of sending again. Markers live in the database, so they outlast a restart and are shared by
every dispatcher replica; those written here are also kept in memory, so a database that is
down for a while does not make this process send twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from sendtier.dispatch.coalesce import Coalescer
from sendtier.storage.dispatch_repositories import SubmittedMarkerRepository
from smsplatform.clock import Clock
from smsplatform.contracts import SubmitResult, decode_batch, encode_batch

log = logging.getLogger(__name__)

# A message is redelivered within minutes of its marker (ack_wait); a day is ample.
RETENTION: Final = timedelta(days=1)
PURGE_EVERY: Final = timedelta(minutes=10)
# Markers written by this process, kept in memory (newest last).
RECENT_MARKERS: Final = 100_000
# A store slower than this counts as failed (the call goes on in its thread): a database that
# hangs must not hold every message, as one that is down does not.
STORE_TIMEOUT_S: Final = 2.0


class SubmittedMarkers:
    """Writes and finds markers in batches; see the module's docstring."""

    def __init__(self, repository: SubmittedMarkerRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock
        self._recent: OrderedDict[str, bytes] = OrderedDict()
        self._finds: Coalescer[str, bytes | None] = Coalescer(self._find_many)
        self._writes: Coalescer[tuple[str, bytes], None] = Coalescer(self._write_many)
        self._purged_at: datetime | None = None

    async def record(self, message_id: str, results: Sequence[SubmitResult]) -> None:
        """Mark the message submitted, with its results so far; raises if the store failed or
        timed out (the mark still holds in this process)."""
        encoded = encode_batch(list(results))
        self._recent[message_id] = encoded
        self._recent.move_to_end(message_id)
        if len(self._recent) > RECENT_MARKERS:
            self._recent.popitem(last=False)
        async with asyncio.timeout(STORE_TIMEOUT_S):
            await self._writes((message_id, encoded))

    async def find(self, message_id: str) -> list[SubmitResult] | None:
        """The results stored with the message's marker; None when it was never submitted.
        Raises when the store cannot tell (failed, or timed out)."""
        encoded = self._recent.get(message_id)
        if encoded is None:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                encoded = await self._finds(message_id)
        return None if encoded is None else decode_batch(SubmitResult, encoded)

    async def _find_many(self, message_ids: list[str]) -> list[bytes | None]:
        found = await asyncio.to_thread(self._repository.find_many, message_ids)
        return [found.get(message_id) for message_id in message_ids]

    async def _write_many(self, markers: list[tuple[str, bytes]]) -> list[None]:
        await asyncio.to_thread(self._write, markers, self._clock.now())
        return [None] * len(markers)

    def _write(self, markers: list[tuple[str, bytes]], now: datetime) -> None:
        self._repository.add_many(markers, now)
        if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
            self._purged_at = now
            purged = self._repository.purge(now - RETENTION)
            if purged:
                log.info("event=submitted_markers_purged markers=%d", purged)
