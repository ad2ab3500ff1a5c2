"""The embedded bus: per-subject logs in one process, durable cursors, ack deadlines, redelivery,
and message-id dedup within a window (as JetStream's), so embedded mode behaves like production."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Sequence

from smsplatform.bus.base import DEDUP_WINDOW_S, Delivery, PublishFailed
from smsplatform.clock import Clock, system_clock

logger = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGES_PER_SUBJECT = 1_000_000
# A waiting fetch re-checks ack deadlines at least this often, so a clock that is moved by hand
# (ManualClock) still triggers redelivery for a fetch that is already waiting.
_REDELIVERY_CHECK_INTERVAL = 0.1
# Trimmed log entries are dropped from the backing list in chunks, keeping trimming amortized O(1).
_COMPACT_MIN = 1024

# The same rules as the JetStream backend, so a name that works here works there.
_DURABLE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SUBJECT_RE = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


def _check_names(subject: str, durable: str | None = None) -> None:
    if not _SUBJECT_RE.fullmatch(subject):
        raise ValueError(f"invalid subject {subject!r}: dot-separated tokens of [A-Za-z0-9_-]")
    if durable is not None and not _DURABLE_RE.fullmatch(durable):
        raise ValueError(f"invalid durable name {durable!r}: 1-64 characters of [A-Za-z0-9_-]")


class _Topic:
    """The retained messages of one subject and the durables reading it."""

    def __init__(self, subject: str, max_messages: int) -> None:
        self.subject = subject
        self.max_messages = max_messages
        # log[head] holds sequence first_seq; entries before head are trimmed, awaiting compaction.
        self.log: list[bytes] = []
        self.head = 0
        self.first_seq = 1
        self.discarded = 0
        # Set when some durable's ack floor moved, so the log may be trimmed.
        self.trim_due = False
        self.durables: dict[str, _Durable] = {}
        self._wakeup: asyncio.Event | None = None

    @property
    def next_seq(self) -> int:
        return self.first_seq + len(self.log) - self.head

    def payload(self, seq: int) -> bytes:
        return self.log[self.head + seq - self.first_seq]

    def append(self, payloads: Sequence[bytes]) -> None:
        if self.trim_due:
            self.trim()
        self.log.extend(payloads)
        overflow = len(self.log) - self.head - self.max_messages
        if overflow > 0:
            self._discard_oldest(overflow)
        self.wake()

    def wakeup_event(self) -> asyncio.Event:
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        return self._wakeup

    def wake(self) -> None:
        # Swap in a fresh event on the next wait, so every current waiter wakes exactly once.
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None

    def trim(self) -> None:
        """Drop the entries every durable has acked."""
        self.trim_due = False
        if not self.durables:
            return
        floor = min(durable.ack_floor for durable in self.durables.values())
        if floor > self.first_seq:
            self._advance(floor - self.first_seq)

    def _discard_oldest(self, count: int) -> None:
        if self.discarded == 0:
            logger.warning(
                "event=bus_discard_started subject=%s max_messages=%d",
                self.subject,
                self.max_messages,
            )
        for seq in range(self.first_seq, self.first_seq + count):
            for durable in self.durables.values():
                durable.forget(seq)
        self.discarded += count
        self._advance(count)

    def _advance(self, count: int) -> None:
        self.head += count
        self.first_seq += count
        if self.head >= _COMPACT_MIN and self.head * 2 >= len(self.log):
            del self.log[: self.head]
            self.head = 0


class _Durable:
    """One durable consumer's position on a topic: cursor, in-flight deliveries, ack floor."""

    def __init__(self, topic: _Topic, name: str, ack_wait: float) -> None:
        self.topic = topic
        self.name = name
        self.ack_wait = ack_wait
        # Next sequence never delivered yet.
        self.cursor = topic.first_seq
        # Lowest sequence not acked yet, and the acked sequences above it.
        self.ack_floor = topic.first_seq
        self._acked_above: set[int] = set()
        # seq -> (ack deadline, attempt). Ordered by deadline: entries are appended with
        # now + ack_wait, so the oldest deadline is always first.
        self.in_flight: OrderedDict[int, tuple[float, int]] = OrderedDict()
        # seq -> attempt of the delivery that was nak'ed; delivered again first.
        self.ready: OrderedDict[int, int] = OrderedDict()

    def pending(self) -> int:
        return self.topic.next_seq - self.cursor + len(self.in_flight) + len(self.ready)

    def next_deadline(self) -> float | None:
        if not self.in_flight:
            return None
        return next(iter(self.in_flight.values()))[0]

    def take(self, max_messages: int, now: float) -> list[Delivery]:
        """Deliveries due now: nak'ed first, then expired in-flight, then new messages."""
        topic = self.topic
        if topic.trim_due:
            topic.trim()
        due: list[tuple[int, int]] = []
        while self.ready and len(due) < max_messages:
            seq, attempt = self.ready.popitem(last=False)
            due.append((seq, attempt + 1))
        while self.in_flight and len(due) < max_messages:
            seq, (deadline, attempt) = next(iter(self.in_flight.items()))
            if deadline > now:
                break
            del self.in_flight[seq]
            due.append((seq, attempt + 1))
        deadline = now + self.ack_wait
        in_flight = self.in_flight
        deliveries: list[Delivery] = []
        for seq, attempt in due:
            in_flight[seq] = (deadline, attempt)
            deliveries.append(MemoryDelivery(self, seq, attempt, topic.payload(seq)))
        # New messages are the bulk: one shared in-flight entry, payloads read from the log.
        fresh = range(self.cursor, min(topic.next_seq, self.cursor + max_messages - len(due)))
        if fresh:
            self.cursor = fresh.stop
            in_flight.update(dict.fromkeys(fresh, (deadline, 1)))
            log, offset = topic.log, topic.head - topic.first_seq
            deliveries.extend(MemoryDelivery(self, seq, 1, log[offset + seq]) for seq in fresh)
        return deliveries

    def ack(self, seq: int) -> None:
        if self.in_flight.pop(seq, None) is None and self.ready.pop(seq, None) is None:
            return  # already acked, or discarded by the cap
        self._settle(seq)
        # Trimming per ack would dominate the cost of acking; the next fetch or publish does it.
        self.topic.trim_due = True

    def nak(self, seq: int, attempt: int) -> None:
        entry = self.in_flight.get(seq)
        # Only the current delivery may nak; a stale one was already redelivered.
        if entry is None or entry[1] != attempt:
            return
        del self.in_flight[seq]
        self.ready[seq] = attempt
        self.topic.wake()

    def forget(self, seq: int) -> None:
        """The cap discarded `seq`: drop it from this durable as if it had been acked."""
        self.in_flight.pop(seq, None)
        self.ready.pop(seq, None)
        self.cursor = max(self.cursor, seq + 1)
        if seq >= self.ack_floor:
            self._settle(seq)

    def _settle(self, seq: int) -> None:
        if seq != self.ack_floor:
            self._acked_above.add(seq)
            return
        floor = seq + 1
        acked_above = self._acked_above
        while floor in acked_above:
            acked_above.remove(floor)
            floor += 1
        self.ack_floor = floor


class _SeenIds:
    """Message ids taken within the dedup window, oldest first (a repeat does not extend it)."""

    def __init__(self, window_s: float) -> None:
        self._window_s = window_s
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def first_time(self, msg_id: str, now: float) -> bool:
        """True, and remembered, unless `msg_id` was taken within the window."""
        expiry = self._expiry
        while expiry:
            oldest, expires_at = next(iter(expiry.items()))
            if expires_at > now:
                break
            del expiry[oldest]
        if msg_id in expiry:
            return False
        expiry[msg_id] = now + self._window_s
        return True


class MemoryDelivery:
    """One delivery from a MemoryBus durable."""

    __slots__ = ("_attempt", "_data", "_durable", "_seq", "_settled")

    def __init__(self, durable: _Durable, seq: int, attempt: int, data: bytes) -> None:
        self._durable = durable
        self._seq = seq
        self._attempt = attempt
        self._data = data
        self._settled = False

    @property
    def subject(self) -> str:
        return self._durable.topic.subject

    @property
    def data(self) -> bytes:
        return self._data

    @property
    def attempt(self) -> int:
        return self._attempt

    async def ack(self) -> None:
        if not self._settled:
            self._settled = True
            self._durable.ack(self._seq)

    async def nak(self) -> None:
        if not self._settled:
            self._settled = True
            self._durable.nak(self._seq, self._attempt)


class MemorySubscription:
    """A handle on a MemoryBus durable; closing it leaves un-acked messages to be redelivered."""

    def __init__(self, durable: _Durable, clock: Clock) -> None:
        self._durable = durable
        self._clock = clock
        self._closed = False

    async def fetch(self, max_messages: int, timeout: float) -> list[Delivery]:
        if self._closed:
            raise RuntimeError("fetch on a closed subscription")
        if max_messages < 1:
            raise ValueError(f"max_messages must be at least 1, got {max_messages}")
        durable = self._durable
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + max(timeout, 0.0)
        while True:
            deliveries = durable.take(max_messages, self._clock.monotonic())
            if deliveries or self._closed:
                return deliveries
            wait = give_up_at - loop.time()
            if wait <= 0:
                return []
            next_deadline = durable.next_deadline()
            if next_deadline is not None:
                until_due = max(next_deadline - self._clock.monotonic(), 0.0)
                wait = min(wait, until_due, _REDELIVERY_CHECK_INTERVAL)
            wakeup = durable.topic.wakeup_event()
            try:
                async with asyncio.timeout(wait):
                    await wakeup.wait()
            except TimeoutError:
                pass

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._durable.topic.wake()


class MemoryBus:
    """The Bus in one process: fast, not shared between processes, lost on exit."""

    def __init__(
        self,
        *,
        clock: Clock = system_clock,
        max_messages_per_subject: int = DEFAULT_MAX_MESSAGES_PER_SUBJECT,
        dedup_window_s: float = DEDUP_WINDOW_S,
    ) -> None:
        if max_messages_per_subject < 1:
            raise ValueError(
                f"max_messages_per_subject must be at least 1, got {max_messages_per_subject}"
            )
        if dedup_window_s <= 0:
            raise ValueError(f"dedup_window_s must be positive, got {dedup_window_s}")
        self._clock = clock
        self._max_messages = max_messages_per_subject
        # One window for the whole bus, as JetStream keeps one per stream.
        self._seen = _SeenIds(dedup_window_s)
        self._topics: dict[str, _Topic] = {}
        self._started = False
        self._closed = False

    async def start(self) -> None:
        self._started = True
        logger.info("event=bus_started backend=memory max_messages=%d", self._max_messages)

    async def close(self) -> None:
        self._closed = True
        for topic in self._topics.values():
            topic.wake()
        logger.info("event=bus_closed backend=memory")

    async def publish(self, subject: str, payload: bytes, *, msg_id: str | None = None) -> None:
        topic = self._publish_topic(subject, 1)
        if msg_id is None or self._seen.first_time(msg_id, self._clock.monotonic()):
            topic.append((payload,))

    async def publish_many(
        self, subject: str, payloads: Sequence[bytes], *, msg_ids: Sequence[str] | None = None
    ) -> None:
        topic = self._publish_topic(subject, len(payloads))
        if msg_ids is not None:
            if len(msg_ids) != len(payloads):
                raise ValueError(f"{len(msg_ids)} message ids for {len(payloads)} payloads")
            now = self._clock.monotonic()
            first_time = self._seen.first_time
            payloads = [
                payload
                for payload, msg_id in zip(payloads, msg_ids, strict=True)
                if first_time(msg_id, now)
            ]
        if payloads:
            topic.append(payloads)

    async def subscribe(
        self, subject: str, durable: str, *, ack_wait: float = 30.0
    ) -> MemorySubscription:
        _check_names(subject, durable)
        if ack_wait <= 0:
            raise ValueError(f"ack_wait must be positive, got {ack_wait}")
        topic = self._topic(subject)
        consumer = topic.durables.get(durable)
        if consumer is None:
            consumer = topic.durables[durable] = _Durable(topic, durable, ack_wait)
            logger.info(
                "event=durable_created backend=memory subject=%s durable=%s start_seq=%d",
                subject,
                durable,
                consumer.cursor,
            )
        else:
            # Like a JetStream consumer update. A shorter ack_wait can delay redelivery of newer
            # deliveries until older ones expire, since in_flight is scanned in delivery order.
            consumer.ack_wait = ack_wait
        return MemorySubscription(consumer, self._clock)

    async def pending(self, subject: str, durable: str) -> int:
        topic = self._topics.get(subject)
        consumer = topic.durables.get(durable) if topic is not None else None
        if consumer is None:
            raise LookupError(f"no durable {durable!r} on subject {subject!r}")
        return consumer.pending()

    async def healthy(self) -> bool:
        return self._started and not self._closed

    def discarded(self, subject: str) -> int:
        """Messages on `subject` dropped unread because the per-subject cap was reached."""
        topic = self._topics.get(subject)
        return topic.discarded if topic is not None else 0

    def _publish_topic(self, subject: str, count: int) -> _Topic:
        if self._closed:
            raise PublishFailed(subject, count, range(count), maybe_held=False)
        return self._topic(subject)

    def _topic(self, subject: str) -> _Topic:
        if self._closed:
            raise RuntimeError("bus is closed")
        topic = self._topics.get(subject)
        if topic is None:
            _check_names(subject)
            topic = self._topics[subject] = _Topic(subject, self._max_messages)
        return topic
