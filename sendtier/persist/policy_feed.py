"""Follows `cp.degradation` into a DegradationGate, so that a restart still knows the policy.

The subject carries versions of a state, not a stream of work: after a restart the newest
version must be read again. So the delivery of the newest policy is held un-acked (older ones
are acked as soon as a newer one arrives) and nak'ed on stop, which hands it straight back to
this durable on the next start. After a crash the bus redelivers it when ack_wait runs out.
"""

from __future__ import annotations

from typing import Final

import msgspec

from sendtier.persist.degradation import DegradationGate
from smsplatform.bus import DEGRADATION, Bus, Delivery
from smsplatform.bus.consume import Batch, Consumer
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.contracts import DegradationPolicy

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

    def __init__(
        self,
        bus: Bus,
        gate: DegradationGate,
        durable: str,
        ack_wait_s: float,
        liveness: LivenessRegistry,
    ) -> None:
        self._bus = bus
        self._gate = gate
        self._durable = durable
        self._ack_wait_s = ack_wait_s
        self._liveness = liveness
        self._held: Delivery | None = None
        self._consumer: Consumer[list[DegradationPolicy]] | None = None

    async def start(self) -> None:
        """Subscribe and read what the bus holds before returning, then follow it."""
        subscription = await self._bus.subscribe(
            DEGRADATION, self._durable, ack_wait=self._ack_wait_s
        )
        self._consumer = Consumer(
            self._durable,
            subscription,
            decode_policies,
            self._take,
            liveness=self._liveness,
            fetch_max=FETCH_MESSAGES,
            fetch_timeout_s=FETCH_TIMEOUT_S,
            handler_settles=True,
        )
        await self._consumer.catch_up(CATCH_UP_TIMEOUT_S)
        self._consumer.start()

    async def stop(self) -> None:
        """Stop following; the newest policy goes back to the bus for the next start."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()
        if self._held is not None:
            await self._held.nak()
            self._held = None

    async def _take(self, batch: Batch[list[DegradationPolicy]]) -> None:
        for delivery, policies in zip(batch.deliveries, batch.values, strict=True):
            await self._take_one(delivery, policies)

    async def _take_one(self, delivery: Delivery, policies: list[DegradationPolicy]) -> None:
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
