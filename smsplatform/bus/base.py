"""The Bus protocol: durable publish, and durable pull subscriptions with ack and redelivery."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

# Subjects of the platform; backends may namespace them but callers always use these names.
SUBMIT = "sms.submit"
SUBMITTED = "sms.submitted"
RECEIPTS = "sms.receipts"
SUPPLIER_LOGS = "sms.supplier_logs"
PROBE_RESULTS = "probe.results"
ROUTING = "cp.routing"
DEGRADATION = "cp.degradation"
PARTIALS = "cp.partials"

# A message id seen again within this many seconds is dropped by the bus (JetStream's default
# duplicate window): a publish retried after a lost answer stays one message.
DEDUP_WINDOW_S = 120.0


class PublishFailed(RuntimeError):
    """The bus did not confirm every payload of a publish.

    `unconfirmed` lists the payloads' indexes that may not be on the bus. `maybe_held` is False
    only when the bus refused them outright (nothing of them is or will be delivered); when an
    answer was lost instead (a timeout), they may be on the bus all the same. A retry with the
    same message ids is safe either way.
    """

    def __init__(
        self, subject: str, total: int, unconfirmed: Sequence[int], *, maybe_held: bool
    ) -> None:
        self.subject = subject
        self.total = total
        self.unconfirmed = tuple(unconfirmed)
        self.maybe_held = maybe_held
        held = "may be held" if maybe_held else "were refused"
        super().__init__(
            f"{len(self.unconfirmed)} of {total} publishes to {subject!r} unconfirmed ({held})"
        )


class Delivery(Protocol):
    """One delivery of one message to a durable subscription."""

    @property
    def subject(self) -> str:
        """The subject it was published on, as the publisher named it."""
        ...

    @property
    def data(self) -> bytes: ...

    @property
    def attempt(self) -> int:
        """1 on first delivery, 2 on the first redelivery, and so on."""
        ...

    async def ack(self) -> None:
        """Done with it: it is never delivered to this durable again."""
        ...

    async def nak(self) -> None:
        """Not done: deliver it again soon."""
        ...


class Subscription(Protocol):
    """A durable pull consumer. Messages not acked within `ack_wait` are delivered again."""

    async def fetch(self, max_messages: int, timeout: float) -> list[Delivery]:
        """Up to max_messages deliveries; waits up to `timeout` s for the first; [] if none."""
        ...

    async def close(self) -> None:
        """Stop fetching. The durable's position and un-acked messages stay on the bus."""
        ...


class Bus(Protocol):
    """A message bus. `publish*` return only once the bus holds the messages durably.

    A publish may name each message with an id: a message whose id the bus took within the
    last `DEDUP_WINDOW_S` seconds (on any subject) is dropped, and the publish still succeeds.
    A failed publish raises PublishFailed.
    """

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, subject: str, payload: bytes, *, msg_id: str | None = None) -> None: ...

    async def publish_many(
        self, subject: str, payloads: Sequence[bytes], *, msg_ids: Sequence[str] | None = None
    ) -> None:
        """Publish several (`msg_ids`, when given, pairs with `payloads`); returns once the bus
        holds all of them, raises PublishFailed naming those it did not confirm."""
        ...

    async def subscribe(
        self, subject: str, durable: str, *, ack_wait: float = 30.0
    ) -> Subscription:
        """Bind to (creating if needed) the durable consumer `durable` on `subject`.

        A new durable starts at the first message the bus still holds for the subject.
        """
        ...

    async def pending(self, subject: str, durable: str) -> int:
        """Messages on `subject` the durable has not acked yet (waiting plus in flight)."""
        ...

    async def healthy(self) -> bool: ...
