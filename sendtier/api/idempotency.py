"""Idempotency keys: the first request under a key sends, its retries get the same answer.

When the bus takes only part of a send, the key stays claimed with what is still owed: the
messages the bus did not confirm (same ids) and the answer to give once they are out. The next
retry under the key publishes just those, and then answers as the send would have.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import msgspec

from sendtier.storage.api_repositories import IdempotencyKeyRepository
from smsplatform.clock import Clock
from smsplatform.contracts import OutboundMessage

log = logging.getLogger(__name__)

HEADER: Final = "Idempotency-Key"
DEFAULT_TTL: Final = timedelta(hours=24)
_VALID_KEY: Final = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, as stored (String(128))


@dataclass(frozen=True, slots=True)
class Claimed:
    """This request holds the key: it sends, then completes or releases the claim."""


@dataclass(frozen=True, slots=True)
class Replay:
    """The key was used before for this request: answer with what it was answered."""

    status_code: int
    body: bytes


class OwedSend(msgspec.Struct, frozen=True):
    """What a send under a key still owes: the answer for when it is done, and the messages
    (of `total`) the bus has not confirmed yet."""

    status_code: int
    answer: bytes
    total: int
    messages: list[OutboundMessage]


_owed_decoder: Final = msgspec.msgpack.Decoder(OwedSend)
_owed_encoder: Final = msgspec.msgpack.Encoder()


@dataclass(frozen=True, slots=True)
class Owed:
    """An earlier request under the key sent part of its messages: this one sends the rest."""

    send: OwedSend


@dataclass(frozen=True, slots=True)
class InFlight:
    """The first request under the key has not been answered yet."""


@dataclass(frozen=True, slots=True)
class Reused:
    """The key was used before for a different request."""


Claim = Claimed | Replay | Owed | InFlight | Reused


def valid_key(raw: str) -> bool:
    return _VALID_KEY.fullmatch(raw) is not None


def fingerprint(route: str, body: bytes) -> str:
    """What identifies a request under a key: its route and its exact body."""
    digest = hashlib.sha256(route.encode())
    digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


class IdempotencyKeys:
    """Claims keys in the database, so retries through any API replica find the first answer."""

    def __init__(
        self, repository: IdempotencyKeyRepository, clock: Clock, ttl: timedelta = DEFAULT_TTL
    ) -> None:
        self._repository = repository
        self._clock = clock
        self.ttl = ttl

    async def claim(self, tenant: str, key: str, request_fingerprint: str) -> Claim:
        now = self._clock.now()
        earlier = await asyncio.to_thread(
            self._repository.claim, tenant, key, request_fingerprint, now, now - self.ttl
        )
        if earlier is None:
            return Claimed()
        if earlier.fingerprint != request_fingerprint:
            return Reused()
        if earlier.pending is not None:
            taken = await asyncio.to_thread(self._repository.take_pending, tenant, key)
            if taken is not None:
                log.info("event=idempotency_resume tenant=%s key=%s", tenant, key)
                return Owed(_owed_decoder.decode(taken))
        if earlier.status_code is None or earlier.response is None:
            return InFlight()
        log.info("idempotency.replay tenant=%s key=%s", tenant, key)
        return Replay(earlier.status_code, earlier.response.encode())

    async def complete(self, tenant: str, key: str, status_code: int, body: bytes) -> None:
        await asyncio.to_thread(self._repository.complete, tenant, key, status_code, body.decode())

    async def keep_owed(self, tenant: str, key: str, owed: OwedSend) -> None:
        """Keep the claim with what its send still owes, for the next retry under the key."""
        pending = _owed_encoder.encode(owed)
        await asyncio.to_thread(self._repository.keep_pending, tenant, key, pending)

    async def release(self, tenant: str, key: str) -> None:
        await asyncio.to_thread(self._repository.release, tenant, key)

    async def purge_expired(self) -> int:
        """Forget keys older than the TTL; returns how many."""
        purged = await asyncio.to_thread(self._repository.purge, self._clock.now() - self.ttl)
        if purged:
            log.info("idempotency.purge keys=%d", purged)
        return purged
