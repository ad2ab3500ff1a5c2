"""The distributed bus on NATS JetStream: one stream, durable pull consumers, explicit acks, and
`Nats-Msg-Id` dedup over the stream's duplicate window."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from collections.abc import Sequence

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, Header, PubAck, StreamConfig
from nats.js.client import JetStreamContext

from smsplatform.bus.base import DEDUP_WINDOW_S, Delivery, PublishFailed

logger = logging.getLogger(__name__)

# JetStream API calls (stream/consumer info, publish acks) give up after this many seconds.
API_TIMEOUT = 5.0
# Un-acked deliveries a consumer may hold before the server stops handing out more; the server
# default (1000) would stall a consumer that fetches a few batches before acking.
MAX_ACK_PENDING = 20_000
# publish_many sends this many messages, then waits for their acks; bounds client memory.
PUBLISH_WINDOW = 4_000
# Async publishes in flight on the connection, across concurrent publish_many calls.
MAX_PUBLISH_IN_FLIGHT = 4 * PUBLISH_WINDOW
# A fetch shorter than this cannot complete a round trip to the server.
MIN_FETCH_TIMEOUT = 0.01
# Room in the client's buffer for a full fetch of large (~900 KB) payloads.
SUBSCRIPTION_PENDING_BYTES = 1024 * 1024 * 1024

# Errors that prove the server did not store a message: it answered with a refusal, nobody
# answered for the stream, or the client never sent it. Any other failure (a timeout above all)
# leaves the message possibly stored.
_REFUSALS: tuple[type[Exception], ...] = (
    nats.errors.MaxPayloadError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.NoRespondersError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.APIError,
    nats.js.errors.TooManyStalledMsgsError,
)

# The same rules as the memory backend, so a name that works there works here.
_DURABLE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SUBJECT_RE = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


def _check_names(subject: str, durable: str | None = None) -> None:
    if not _SUBJECT_RE.fullmatch(subject):
        raise ValueError(f"invalid subject {subject!r}: dot-separated tokens of [A-Za-z0-9_-]")
    if durable is not None and not _DURABLE_RE.fullmatch(durable):
        raise ValueError(f"invalid durable name {durable!r}: 1-64 characters of [A-Za-z0-9_-]")


def _msg_id_header(msg_id: str | None) -> dict[str, str] | None:
    return None if msg_id is None else {Header.MSG_ID: msg_id}


def _maybe_stored(error: BaseException) -> bool:
    return not isinstance(error, _REFUSALS)


def consumer_name(subject: str, durable: str) -> str:
    """The JetStream consumer for (subject, durable).

    Consumer names are per stream, but a durable belongs to one subject, so the subject goes into
    the name (readable part plus a hash, since '.'→'_' alone could collide).
    """
    digest = hashlib.blake2b(subject.encode(), digest_size=4).hexdigest()
    return f"{durable}__{subject.replace('.', '_')}_{digest}"


def _publish_error(future: asyncio.Future[PubAck]) -> BaseException | None:
    """None for a publish the server acked; else why not (cancelling one still unanswered)."""
    if not future.done():
        future.cancel()  # frees the in-flight slot it holds
        return TimeoutError("publish unanswered")
    if future.cancelled():
        return TimeoutError("publish cancelled unanswered")
    return future.exception()


class JetStreamDelivery:
    """One JetStream message delivered to a durable pull consumer."""

    __slots__ = ("_msg", "_settled", "_subject")

    def __init__(self, msg: Msg, subject: str) -> None:
        self._msg = msg
        self._subject = subject
        self._settled = False

    @property
    def subject(self) -> str:
        return self._subject

    @property
    def data(self) -> bytes:
        return self._msg.data

    @property
    def attempt(self) -> int:
        return int(self._msg.metadata.num_delivered)

    async def ack(self) -> None:
        # nats-py refuses a second ack or nak; the Bus contract makes them no-ops instead.
        if not self._settled:
            self._settled = True
            await self._msg.ack()

    async def nak(self) -> None:
        if not self._settled:
            self._settled = True
            await self._msg.nak()


class JetStreamSubscription:
    """A bound pull subscription on one durable consumer."""

    def __init__(self, pull: JetStreamContext.PullSubscription, prefix_len: int) -> None:
        self._pull = pull
        self._prefix_len = prefix_len
        self._closed = False

    async def fetch(self, max_messages: int, timeout: float) -> list[Delivery]:
        if self._closed:
            raise RuntimeError("fetch on a closed subscription")
        if max_messages < 1:
            raise ValueError(f"max_messages must be at least 1, got {max_messages}")
        try:
            msgs = await self._pull.fetch(max_messages, timeout=max(timeout, MIN_FETCH_TIMEOUT))
        except TimeoutError:
            # nats.errors.TimeoutError and FetchTimeoutError both subclass TimeoutError.
            msgs = []
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            # nats-py waits with asyncio.wait_for, which on Python 3.11 swallows a cancellation
            # that lands as a message arrives (fixed in 3.12): the caller's fetch loop would
            # then never stop. Honour it; the messages stay un-acked and are delivered again.
            raise asyncio.CancelledError
        return [JetStreamDelivery(msg, msg.subject[self._prefix_len :]) for msg in msgs]

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # If the connection went first there is nothing to undo: the consumer and its
        # un-acked messages stay on the server either way.
        with contextlib.suppress(
            nats.errors.ConnectionClosedError, nats.errors.BadSubscriptionError
        ):
            await self._pull.unsubscribe()


class JetStreamBus:
    """The Bus on NATS JetStream. Subjects live under `namespace.` in one stream."""

    def __init__(
        self,
        url: str,
        stream: str = "SMSCTL",
        namespace: str = "smsctl",
        *,
        dedup_window_s: float = DEDUP_WINDOW_S,
    ) -> None:
        if not _DURABLE_RE.fullmatch(stream):
            raise ValueError(f"invalid stream name {stream!r}: 1-64 characters of [A-Za-z0-9_-]")
        _check_names(namespace)
        if dedup_window_s <= 0:
            raise ValueError(f"dedup_window_s must be positive, got {dedup_window_s}")
        self._dedup_window_s = dedup_window_s
        self._url = url
        self._stream = stream
        self._namespace = namespace
        self._prefix = f"{namespace}."
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._closing = False

    async def start(self) -> None:
        self._closing = False
        nc = await nats.connect(
            servers=[self._url],
            name="smsctl",
            connect_timeout=2,
            error_cb=self._on_error,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
        )
        js = nc.jetstream(timeout=API_TIMEOUT, publish_async_max_pending=MAX_PUBLISH_IN_FLIGHT)
        config = StreamConfig(
            name=self._stream,
            subjects=[f"{self._namespace}.>"],
            duplicate_window=self._dedup_window_s,
        )
        try:
            await js.stream_info(self._stream)
        except nats.js.errors.NotFoundError:
            await js.add_stream(config)
            action = "created"
        else:
            await js.update_stream(config)
            action = "updated"
        self._nc, self._js = nc, js
        logger.info(
            "event=bus_started backend=jetstream url=%s stream=%s namespace=%s stream_action=%s",
            self._url,
            self._stream,
            self._namespace,
            action,
        )

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        self._closing = True
        if nc is None or nc.is_closed:
            return
        # Not nc.drain(): it waits for every subscription's buffer to empty, and a pull
        # subscription's buffer can hold status replies to expired fetches that no one reads.
        # A flush round trip gets our acks and publishes to the server, then close.
        try:
            await nc.flush(timeout=2)
        except (nats.errors.Error, TimeoutError) as exc:
            logger.warning("event=bus_flush_failed backend=jetstream error=%r", exc)
        await nc.close()
        logger.info("event=bus_closed backend=jetstream stream=%s", self._stream)

    async def publish(self, subject: str, payload: bytes, *, msg_id: str | None = None) -> None:
        real = self._real(subject)
        js = self._publishing(subject, 1)
        try:
            await js.publish(real, payload, timeout=API_TIMEOUT, headers=_msg_id_header(msg_id))
        except Exception as exc:
            raise PublishFailed(subject, 1, (0,), maybe_held=_maybe_stored(exc)) from exc

    async def publish_many(
        self, subject: str, payloads: Sequence[bytes], *, msg_ids: Sequence[str] | None = None
    ) -> None:
        if msg_ids is not None and len(msg_ids) != len(payloads):
            raise ValueError(f"{len(msg_ids)} message ids for {len(payloads)} payloads")
        real = self._real(subject)
        js = self._publishing(subject, len(payloads))
        unconfirmed: list[int] = []
        maybe_held = False
        first_error: BaseException | None = None
        # Windows of async publishes: acks pipeline within a window, and each window's wait is
        # bounded (nats-py's own stall timeout costs a task per message, which is far slower).
        for start in range(0, len(payloads), PUBLISH_WINDOW):
            stop = min(start + PUBLISH_WINDOW, len(payloads))
            futures: list[asyncio.Future[PubAck]] = []
            window_failed = False
            try:
                async with asyncio.timeout(API_TIMEOUT):
                    for index in range(start, stop):
                        headers = None if msg_ids is None else _msg_id_header(msg_ids[index])
                        futures.append(
                            await js.publish_async(real, payloads[index], headers=headers)
                        )
                    await asyncio.wait(futures)
            except Exception as exc:
                # Timed out, or the connection refused a send: what was answered counts; the
                # window's unsent rest, and every later window, never left.
                first_error = first_error or exc
                unconfirmed.extend(range(start + len(futures), len(payloads)))
                window_failed = True
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
            for offset, future in enumerate(futures):
                error = _publish_error(future)
                if error is not None:
                    unconfirmed.append(start + offset)
                    maybe_held = maybe_held or _maybe_stored(error)
                    first_error = first_error or error
            if window_failed:
                break
        if unconfirmed:
            unconfirmed.sort()
            logger.error(
                "event=publish_many_failed subject=%s unconfirmed=%d total=%d maybe_held=%s "
                "first_error=%r",
                subject,
                len(unconfirmed),
                len(payloads),
                maybe_held,
                first_error,
            )
            raise PublishFailed(
                subject, len(payloads), unconfirmed, maybe_held=maybe_held
            ) from first_error

    async def subscribe(
        self, subject: str, durable: str, *, ack_wait: float = 30.0
    ) -> JetStreamSubscription:
        _check_names(subject, durable)
        if ack_wait <= 0:
            raise ValueError(f"ack_wait must be positive, got {ack_wait}")
        js = self._jetstream()
        name = consumer_name(subject, durable)
        config = ConsumerConfig(
            name=name,
            durable_name=name,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait,
            filter_subject=self._real(subject),
            max_ack_pending=MAX_ACK_PENDING,
        )
        # Creates the consumer, or updates it (e.g. a new ack_wait) keeping its position.
        await js.add_consumer(self._stream, config)
        pull = await js.pull_subscribe_bind(
            durable=name,
            stream=self._stream,
            pending_bytes_limit=SUBSCRIPTION_PENDING_BYTES,
        )
        logger.info(
            "event=durable_bound backend=jetstream stream=%s subject=%s durable=%s consumer=%s",
            self._stream,
            subject,
            durable,
            name,
        )
        return JetStreamSubscription(pull, len(self._prefix))

    async def pending(self, subject: str, durable: str) -> int:
        _check_names(subject, durable)
        try:
            info = await self._jetstream().consumer_info(
                self._stream, consumer_name(subject, durable)
            )
        except nats.js.errors.NotFoundError as exc:
            raise LookupError(f"no durable {durable!r} on subject {subject!r}") from exc
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def healthy(self) -> bool:
        if self._nc is None or self._js is None or not self._nc.is_connected:
            return False
        try:
            await self._js.stream_info(self._stream)
        except (nats.errors.Error, TimeoutError) as exc:
            logger.warning("event=bus_unhealthy backend=jetstream error=%r", exc)
            return False
        return True

    async def delete_stream(self) -> None:
        """Delete the stream and everything on it (tests clean up with this)."""
        await self._jetstream().delete_stream(self._stream)
        logger.info("event=stream_deleted backend=jetstream stream=%s", self._stream)

    def _real(self, subject: str) -> str:
        _check_names(subject)
        return self._prefix + subject

    def _publishing(self, subject: str, count: int) -> JetStreamContext:
        """The context to publish with; refuses at once while the connection is down.

        nats-py would buffer the messages until it reconnects and then time out not knowing
        whether they were stored; refused here, the caller knows nothing was sent.
        """
        js = self._jetstream()
        if self._nc is None or not self._nc.is_connected:
            logger.warning("event=publish_refused_disconnected subject=%s count=%d", subject, count)
            raise PublishFailed(subject, count, range(count), maybe_held=False)
        return js

    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("JetStreamBus is not started (or already closed)")
        return self._js

    async def _on_error(self, exc: Exception) -> None:
        logger.warning("event=nats_error url=%s error=%r", self._url, exc)

    async def _on_disconnected(self) -> None:
        if not self._closing:  # a disconnect we asked for is not news
            logger.warning("event=nats_disconnected url=%s", self._url)

    async def _on_reconnected(self) -> None:
        logger.info("event=nats_reconnected url=%s", self._url)
