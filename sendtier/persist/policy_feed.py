"""Follows `cp.degradation` into a DegradationGate, so that a restart still knows the policy.

The subject carries versions of a state, not a stream of work: after a restart the newest
version must be read again. So the delivery of the newest policy is held un-acked (older ones
are acked as soon as a newer one arrives) and nak'ed on stop, which hands it straight back to
this durable on the next start. After a crash the bus redelivers it when ack_wait runs out.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import msgspec

from controlplane.bus import DEGRADATION, Bus, Delivery, Subscription
from controlplane.contracts import DegradationPolicy
from sendtier.persist.degradation import DegradationGate

log = logging.getLogger(__name__)

FETCH_TIMEOUT_S: Final = 0.25
CATCH_UP_TIMEOUT_S: Final = 0.05
FETCH_MESSAGES: Final = 64
# Control plane actions publish one policy per message; a list (encode_batch) is accepted too.
_decoder = msgspec.msgpack.Decoder(DegradationPolicy | list[DegradationPolicy])


def decode_policies(payload: bytes) -> list[DegradationPolicy]:
    """The policies in one cp.degradation payload; raises msgspec.DecodeError when malformed."""
    decoded = _decoder.decode(payload)
    return decoded if isinstance(decoded, list) else [decoded]


class DegradationFeed:
    """One durable consumer of cp.degradation that keeps the gate at the newest version."""

    def __init__(self, bus: Bus, gate: DegradationGate, durable: str, ack_wait_s: float) -> None:
        self._bus = bus
        self._gate = gate
        self._durable = durable
        self._ack_wait_s = ack_wait_s
        self._subscription: Subscription | None = None
        self._held: Delivery | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe and read what the bus holds before returning, then follow it."""
        subscription = await self._bus.subscribe(
            DEGRADATION, self._durable, ack_wait=self._ack_wait_s
        )
        self._subscription = subscription
        while deliveries := await subscription.fetch(FETCH_MESSAGES, CATCH_UP_TIMEOUT_S):
            for delivery in deliveries:
                await self._take(delivery)
        self._task = asyncio.create_task(self._run(subscription), name="persist-degradation")

    async def stop(self) -> None:
        """Stop following; the newest policy goes back to the bus for the next start."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._held is not None:
            await self._held.nak()
            self._held = None
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None

    async def _run(self, subscription: Subscription) -> None:
        while not self._stopping.is_set():
            try:
                deliveries = await subscription.fetch(FETCH_MESSAGES, FETCH_TIMEOUT_S)
                for delivery in deliveries:
                    await self._take(delivery)
            except Exception:
                # The gate keeps the policy it has; the next fetch tries again.
                log.exception("persist.degradation fetch failed durable=%s", self._durable)
                await asyncio.sleep(FETCH_TIMEOUT_S)

    async def _take(self, delivery: Delivery) -> None:
        try:
            policies = decode_policies(delivery.data)
        except msgspec.DecodeError as exc:
            log.error("persist.degradation undecodable payload acked error=%s", exc)
            await delivery.ack()
            return
        newest = max(policies, key=lambda policy: policy.version, default=None)
        current = self._gate.policy
        if newest is not None and self._gate.update(newest):
            if self._held is not None:
                await self._held.ack()
            self._held = delivery
        elif newest is not None and current is not None and newest.version == current.version:
            # The held policy again (its ack_wait ran out, or a duplicate): hold the newest
            # delivery; acking the old one could ack this redelivery of the same message.
            self._held = delivery
        else:
            await delivery.ack()
