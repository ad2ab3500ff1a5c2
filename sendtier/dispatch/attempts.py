"""Sends one message: tries its candidate suppliers by the submit-error rules of SUPPLIERS.md §7.2.

- retriable (5xx, connect error): the next supplier, each supplier at most once per message;
- timeout: the next supplier only for OTP (a submit is not idempotent, so it may have been sent);
- throttled: back this supplier off and use the next one;
- per-recipient limit, permanent: final, never dodged by switching supplier (anti-bombing);
- supplier-wide (balance, account, signature): skip the supplier for a cool-down, tell the
  control plane with a SupplierLog, use the next supplier;
- deferred (e.g. marketing outside allowed hours): leave the message for redelivery.
Every attempt's SubmitResult is published; the message id is the same on every attempt.

Once a supplier took the message (accepted it, or timed out on a non-OTP one), its "submitted"
marker is written before the result is published, and a message whose marker exists is never
submitted again: its stored results are published once more instead (submitted.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from enum import Enum
from urllib.parse import quote

from sendtier.dispatch.calls import Answered, Sleep, SupplierCaller, error_class
from sendtier.dispatch.limits import SupplierGates
from sendtier.dispatch.metrics import DispatchMetrics
from sendtier.dispatch.results import EventPublisher
from sendtier.dispatch.routing import RouteBook
from sendtier.dispatch.submitted import SubmittedMarkers
from smsplatform.clock import Clock
from smsplatform.contracts import OutboundMessage, SubmitResult, SupplierLog
from suppliers.base import SubmitErrorClass, SubmitRequest, SupplierAdapter
from suppliers.settings import SupplierSettings

logger = logging.getLogger(__name__)

# When every remaining candidate is backed off, wait this long at most (once per message) for
# the first to come back, rather than leave the message for a redelivery a whole ack_wait later.
MAX_HOLD_S = 2.0

# What a supplier's answer means for the message; RETRIABLE and TIMEOUT are handled apart.
_FINAL = frozenset({SubmitErrorClass.PERMANENT, SubmitErrorClass.RECIPIENT_LIMIT})
_NOT_TAKEN = frozenset({SubmitErrorClass.THROTTLED, SubmitErrorClass.SUPPLIER_WIDE})


class Disposition(Enum):
    """What becomes of the bus message once its attempts are over."""

    DONE = "done"  # sent, or failed for good: ack it
    ALREADY_SENT = "already_submitted"  # submitted before: its results went out again; ack it
    LATER = "later"  # not sent yet (deferred, or no supplier free): let the bus redeliver it
    UNROUTABLE = "unroutable"  # no route, or no configured supplier on it: let it redeliver
    UNVERIFIED = "unverified"  # redelivered, and the markers cannot be read: let it redeliver


class MessageSender:
    """Runs the attempts of one message at a time; many run concurrently on one sender."""

    def __init__(
        self,
        *,
        route_book: RouteBook,
        gates: SupplierGates,
        adapters: Mapping[str, SupplierAdapter],
        suppliers: Mapping[str, SupplierSettings],
        publisher: EventPublisher,
        markers: SubmittedMarkers,
        metrics: DispatchMetrics,
        clock: Clock,
        sleep: Sleep,
        callback_base_url: str,
    ) -> None:
        self._route_book = route_book
        self._gates = gates
        self._adapters = adapters
        self._callers = {
            name: SupplierCaller(name, adapter, gates, metrics, clock, sleep)
            for name, adapter in adapters.items()
        }
        self._suppliers = suppliers
        self._publisher = publisher
        self._markers = markers
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep
        self._callback_base_url = callback_base_url.rstrip("/")

    async def send(self, message: OutboundMessage, *, redelivered: bool) -> Disposition:
        """Try the message's suppliers; returns once every attempt's events are on the bus."""
        try:
            sent_before = await self._markers.find(message.message_id)
        except Exception as exc:
            if redelivered:
                logger.warning(
                    "event=submitted_marker_unreadable message_id=%s error=%r",
                    message.message_id,
                    exc,
                )
                return Disposition.UNVERIFIED
            # A first delivery is almost never a repeat (the API publishes each message under
            # its id and the bus drops a repeated id): send it rather than stop every send.
            sent_before = None
        if sent_before is not None:
            logger.info(
                "event=resubmit_prevented message_id=%s results=%d",
                message.message_id,
                len(sent_before),
            )
            await asyncio.gather(*map(self._publisher.submit_result, sent_before))
            return Disposition.ALREADY_SENT
        candidates = [
            name
            for name in self._route_book.candidates(
                message.carrier, message.message_class, message.pinned_supplier
            )
            if self._can_carry(name, message)
        ]
        if not candidates:
            logger.warning(
                "event=message_unroutable message_id=%s carrier=%s message_class=%s pinned=%s "
                "routing_version=%d",
                message.message_id,
                message.carrier,
                message.message_class,
                message.pinned_supplier,
                self._route_book.version,
            )
            return Disposition.UNROUTABLE
        published: list[asyncio.Future[None]] = []
        try:
            return await self._attempt_all(message, candidates, published)
        finally:
            # Ack (by the caller) only once the bus holds the events of every attempt made.
            if published:
                await asyncio.gather(*published)

    async def _attempt_all(
        self, message: OutboundMessage, candidates: list[str], published: list[asyncio.Future[None]]
    ) -> Disposition:
        used: set[str] = set()  # suppliers that took the submit (or may have): once per message
        results: list[SubmitResult] = []
        held = False
        attempt = 0
        # Each pass either uses up a candidate or backs one off; this bounds a pathological mix.
        for _ in range(2 * len(candidates) + 2):
            supplier = self._next_free(message, candidates, used)
            if supplier is None:
                waiting = [name for name in candidates if name not in used]
                if not waiting:
                    return Disposition.DONE  # every supplier tried: the last answer stands
                wait = min(self._gates[name].available_at() for name in waiting) - self._now()
                if held or wait > MAX_HOLD_S:
                    logger.info(
                        "event=message_held_back message_id=%s waiting_for=%s wait_s=%.3f",
                        message.message_id,
                        ",".join(waiting),
                        wait,
                    )
                    return Disposition.LATER
                held = True
                await self._sleep(max(wait, 0.0))
                continue
            attempt += 1
            answered = await self._submit(supplier, message)
            outcome_class = error_class(answered.outcome)
            results.append(self._result(message, supplier, attempt, answered, outcome_class))
            # Taken (or maybe, and a timeout is resent to the next supplier only for OTP): the
            # message is done, and marked so before its result goes out.
            taken = outcome_class is None or (
                outcome_class is SubmitErrorClass.TIMEOUT and message.message_class != "otp"
            )
            if taken:
                await self._mark_submitted(message, results)
            published.append(self._publisher.submit_result(results[-1]))
            self._learn(supplier, message, answered, outcome_class, published)
            if taken or outcome_class in _FINAL:
                return Disposition.DONE
            if outcome_class is SubmitErrorClass.DEFERRED:
                return Disposition.LATER
            if outcome_class not in _NOT_TAKEN:
                used.add(supplier)
        return Disposition.LATER

    def _can_carry(self, supplier: str, message: OutboundMessage) -> bool:
        settings = self._suppliers.get(supplier)
        if settings is None or supplier not in self._adapters:
            return False  # named by the table but not configured in this send tier
        # A supplier with a template map carries only the templates it has approved.
        return not settings.templates or message.template_id in settings.templates

    def _next_free(
        self, message: OutboundMessage, candidates: list[str], used: set[str]
    ) -> str | None:
        now = self._now()
        for name in candidates:
            if name in used:
                continue
            unavailable = self._gates.unavailable(name, now)
            if unavailable is None:
                return name
            self._metrics.skips.labels(name, unavailable.reason).inc()
        return None

    async def close(self) -> None:
        """Cancel supplier calls still open (after the messages waiting on them were)."""
        await asyncio.gather(*(caller.close() for caller in self._callers.values()))

    async def _submit(self, supplier: str, message: OutboundMessage) -> Answered:
        settings = self._suppliers[supplier]
        request = SubmitRequest(
            message_id=message.message_id,
            phone=message.phone,
            carrier=message.carrier,
            message_class=message.message_class,
            sign_name=message.sign_name,
            template_id=settings.templates.get(message.template_id, message.template_id),
            template_params=message.template_params,
            content=message.content,
            callback_url=(
                f"{self._callback_base_url}/v1/callbacks/{supplier}"
                f"?mid={quote(message.message_id, safe='')}"
            ),
        )
        return await self._callers[supplier].submit(request)

    async def _mark_submitted(self, message: OutboundMessage, results: list[SubmitResult]) -> None:
        try:
            await self._markers.record(message.message_id, results)
        except Exception as exc:
            # The mark holds in this process, and the results go out as always: only a failed
            # publish too, redelivered to another replica, could send it again.
            logger.error(
                "event=submitted_marker_failed message_id=%s error=%r", message.message_id, exc
            )

    def _result(
        self,
        message: OutboundMessage,
        supplier: str,
        attempt: int,
        answered: Answered,
        outcome_class: SubmitErrorClass | None,
    ) -> SubmitResult:
        outcome = answered.outcome
        self._metrics.observe_submit(
            supplier,
            message.carrier,
            str(outcome_class or "accepted"),
            outcome.latency_ms,
        )
        return SubmitResult(
            message_id=message.message_id,
            supplier=supplier,
            carrier=message.carrier,
            message_class=message.message_class,
            accepted=outcome.accepted,
            latency_ms=max(outcome.latency_ms, 0.0),
            at=self._clock.now(),
            error_code=outcome.error_code,
            supplier_message_id=outcome.supplier_message_id,
            attempt=attempt,
            error_class=None if outcome_class is None else str(outcome_class),
        )

    def _learn(
        self,
        supplier: str,
        message: OutboundMessage,
        answered: Answered,
        outcome_class: SubmitErrorClass | None,
        published: list[asyncio.Future[None]],
    ) -> None:
        # The supplier's gate learnt from the answer already, once per call (calls.py).
        outcome, skipped_s = answered.outcome, answered.skipped_s
        if outcome_class is SubmitErrorClass.THROTTLED:
            self._metrics.throttles.labels(supplier).inc()
            logger.info(
                "event=supplier_throttled supplier=%s code=%s backoff_s=%.3f message_id=%s",
                supplier,
                outcome.error_code,
                skipped_s or 0.0,
                message.message_id,
            )
        elif outcome_class is SubmitErrorClass.SUPPLIER_WIDE:
            self._metrics.downs.labels(supplier).inc()
            logger.error(
                "event=supplier_down supplier=%s code=%s cooldown_s=%.1f message_id=%s",
                supplier,
                outcome.error_code,
                skipped_s or 0.0,
                message.message_id,
            )
            entry = SupplierLog(
                supplier=supplier,
                level="ERROR",
                code=outcome.error_code or "SUPPLIER_WIDE",
                text=outcome.error_message
                or f"supplier-wide submit failure; skipped for {skipped_s or 0.0:.0f} s",
                at=self._clock.now(),
                fields={
                    "error_class": str(SubmitErrorClass.SUPPLIER_WIDE),
                    "message_id": message.message_id,
                    "cooldown_s": skipped_s,
                },
            )
            published.append(self._publisher.supplier_log(entry))

    def _now(self) -> float:
        return self._clock.monotonic()
