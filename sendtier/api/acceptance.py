"""The send path: a request becomes messages, passes opt-out and rate limits, goes on the bus."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sendtier.api.bodies import BatchRequest, Params, SendRequest
from sendtier.api.ids import MessageIdFactory
from sendtier.api.metrics import SendApiMetrics
from sendtier.api.optout import OptOutList
from sendtier.api.publishing import Shortfall, publish
from sendtier.api.ratelimit import LimitExceeded, NumberCounters, Reservation, TenantBuckets, Window
from sendtier.api.refusals import InvalidRequest, OptedOut, RateLimited, Refusal, Unavailable
from sendtier.api.validation import InvalidPhone, PhoneValidator, Recipient
from sendtier.settings import SendTierSettings, TenantSettings
from smsplatform.bus import Bus
from smsplatform.clock import Clock
from smsplatform.contracts import MessageClass, OutboundMessage
from suppliers.segments import count_segments
from suppliers.templates import Template, TemplateCatalog, TemplateParamError

log = logging.getLogger(__name__)

MINUTE_S, HOUR_S, DAY_S = 60.0, 3600.0, 86_400.0


@dataclass(frozen=True, slots=True)
class Draft:
    """One recipient's message, validated and rendered, not yet admitted."""

    index: int
    recipient: Recipient
    params: Params
    content: str
    segments: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """A batch recipient refused by policy (opt-out, per-number limit) while others went."""

    index: int
    phone: str
    refusal: Refusal

    def body(self) -> dict[str, object]:
        return {"index": self.index, "phone": self.phone, **self.refusal.body()}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a request sent: (request index, message) pairs, and the recipients it refused.

    With a `shortfall`, the bus confirmed only some of the accepted messages (or none, though
    some may be on it): the send stands, its limits stay spent, and the rest is owed.
    """

    accepted: list[tuple[int, OutboundMessage]]
    rejected: list[Rejected]
    shortfall: Shortfall | None = None


@dataclass(frozen=True, slots=True)
class _Shape:
    """What every message of one request shares."""

    template: Template
    message_class: MessageClass
    sign_name: str
    supplier: str | None


def number_windows(tenant: TenantSettings) -> dict[MessageClass, tuple[Window, ...]]:
    """The per-number limits of each message class for one tenant (marketing: opt-out only)."""
    otp = tenant.otp_limits
    return {
        "otp": (
            Window("otp_per_minute", MINUTE_S, otp.per_minute),
            Window("otp_per_hour", HOUR_S, otp.per_hour),
            Window("otp_per_day", DAY_S, otp.per_day),
        ),
        "notification": (
            Window("notification_per_day", DAY_S, tenant.notification_per_number_per_day),
        ),
        "marketing": (),
    }


class Acceptor:
    """Validates, limits and publishes sends; raises a Refusal for what it will not send."""

    def __init__(
        self,
        settings: SendTierSettings,
        bus: Bus,
        clock: Clock,
        optouts: OptOutList,
        metrics: SendApiMetrics,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._optouts = optouts
        self._metrics = metrics
        self.templates = TemplateCatalog(settings.templates)
        self.phones = PhoneValidator(settings.api.default_region, settings.api.carrier_prefixes)
        self._suppliers = frozenset(supplier.name for supplier in settings.suppliers)
        self._max_chars = settings.api.max_content_chars
        self.max_batch = settings.api.max_batch
        self._windows = {tenant.name: number_windows(tenant) for tenant in settings.tenants}
        self._buckets = TenantBuckets(clock)
        self._counters = NumberCounters(clock)
        self._ids = MessageIdFactory(clock)

    async def send(self, tenant: TenantSettings, request: SendRequest) -> Outcome:
        """Send one message; every refusal is raised."""
        try:
            shape = self._shape(tenant, request)
            recipient = self._recipient(request.phone, request.carrier, "phone")
            text = self._render(shape, request.params, lambda param: f"params.{param}")
            draft = self._draft(shape, 0, recipient, request.params, text, "params")
        except Refusal as refusal:
            self._count_refused([refusal])
            raise
        return await self._admit_and_publish(tenant, shape, [draft], single=True)

    async def send_batch(self, tenant: TenantSettings, request: BatchRequest) -> Outcome:
        """Send to every recipient, or refuse the whole batch when the request is invalid.

        Recipients refused by policy are listed in the outcome; if all are, the first refusal
        is raised (carrying the list).
        """
        try:
            drafts, shape = self._batch_drafts(tenant, request)
        except Refusal as refusal:
            self._count_refused([refusal] * len(request.recipients))
            raise
        return await self._admit_and_publish(tenant, shape, drafts, single=False)

    # --- validation ---------------------------------------------------------------------------
    def _shape(self, tenant: TenantSettings, request: SendRequest | BatchRequest) -> _Shape:
        template = self.templates.get(request.template_id, tenant.name)
        if template is None:
            raise InvalidRequest(f"unknown template {request.template_id!r}", "template_id")
        message_class = request.message_class or template.message_class
        if message_class != template.message_class:
            raise InvalidRequest(
                f"template {template.id!r} is for {template.message_class} messages",
                "message_class",
            )
        sign_name = request.signature or tenant.signatures[0]
        if sign_name not in tenant.signatures:
            raise InvalidRequest(f"signature {sign_name!r} is not approved", "signature")
        if request.supplier is not None and request.supplier not in self._suppliers:
            raise InvalidRequest(f"unknown supplier {request.supplier!r}", "supplier")
        return _Shape(template, message_class, sign_name, request.supplier)

    def _recipient(self, phone: str, carrier: str | None, field: str) -> Recipient:
        try:
            return self.phones.recipient(phone, carrier)
        except InvalidPhone as exc:
            raise InvalidRequest(str(exc), field) from None

    def _render(self, shape: _Shape, params: Params, locate: Callable[[str], str]) -> str:
        """The template's text; a parameter error names the field `locate` gives for it."""
        try:
            return shape.template.render(params)
        except TemplateParamError as exc:
            raise InvalidRequest(exc.message, locate(exc.param)) from None

    def _draft(
        self, shape: _Shape, index: int, recipient: Recipient, params: Params, text: str, field: str
    ) -> Draft:
        content = f"【{shape.sign_name}】{text}"
        if len(content) > self._max_chars:
            raise InvalidRequest(
                f"content is {len(content)} characters, more than {self._max_chars}",
                field,
                content_chars=len(content),
                max_content_chars=self._max_chars,
            )
        return Draft(index, recipient, params, content, count_segments(content).segments)

    def _batch_drafts(
        self, tenant: TenantSettings, request: BatchRequest
    ) -> tuple[list[Draft], _Shape]:
        if len(request.recipients) > self.max_batch:
            raise InvalidRequest(
                f"{len(request.recipients)} recipients, more than {self.max_batch}",
                "recipients",
                max_batch=self.max_batch,
            )
        shape = self._shape(tenant, request)
        shared = request.params
        shared_text: str | None = None  # rendered once for all recipients that add no params
        drafts = []
        for index, item in enumerate(request.recipients):
            field = f"recipients[{index}]"
            recipient = self._recipient(item.phone, item.carrier, f"{field}.phone")
            locate = partial(_batch_param_field, field, shared, item.params)
            if item.params:
                params = {**shared, **item.params}
                text = self._render(shape, params, locate)
            else:
                params = shared
                if shared_text is None:
                    shared_text = self._render(shape, shared, locate)
                text = shared_text
            drafts.append(self._draft(shape, index, recipient, params, text, f"{field}.params"))
        return drafts, shape

    # --- policy and publishing ----------------------------------------------------------------
    async def _admit_and_publish(
        self, tenant: TenantSettings, shape: _Shape, drafts: list[Draft], *, single: bool
    ) -> Outcome:
        admitted, rejected = self._admit(tenant, shape, drafts, single=single)
        self._count_refused([r.refusal for r in rejected])
        if not admitted:
            first = rejected[0].refusal
            first.extra["rejected"] = [r.body() for r in rejected]
            raise first
        try:
            self._buckets.take(tenant.name, len(admitted), tenant.rate_per_s)
        except LimitExceeded as exceeded:
            _cancel(admitted)
            refusal = RateLimited(exceeded)
            self._count_refused([refusal] * len(admitted))
            raise refusal from None
        messages = [(draft.index, self._message(tenant, shape, draft)) for draft, _ in admitted]
        shortfall = await publish(self._bus, [message for _, message in messages])
        if shortfall is not None and shortfall.sent == "none":
            _cancel(admitted)
            self._buckets.give_back(tenant.name, len(admitted))
            unavailable = Unavailable("the message bus did not take the messages; nothing was sent")
            self._count_refused([unavailable] * len(admitted))
            raise unavailable
        owed = set() if shortfall is None else {m.message_id for m in shortfall.unpublished}
        published = [m for _, m in messages if m.message_id not in owed]
        self._count_accepted(shape.message_class, published)
        return Outcome(messages, rejected, shortfall)

    async def publish_owed(self, messages: list[OutboundMessage]) -> Shortfall | None:
        """Publish what an earlier send left unconfirmed (its limits are spent already)."""
        shortfall = await publish(self._bus, messages)
        owed = set() if shortfall is None else {m.message_id for m in shortfall.unpublished}
        published = [m for m in messages if m.message_id not in owed]
        if published:
            self._count_accepted(published[0].message_class, published)
        return shortfall

    def _admit(
        self, tenant: TenantSettings, shape: _Shape, drafts: list[Draft], *, single: bool
    ) -> tuple[list[tuple[Draft, Reservation | None]], list[Rejected]]:
        """Check each recipient against the opt-out list and its number's limits.

        A single send raises its refusal; a batch lists refused recipients and goes on.
        """
        admitted: list[tuple[Draft, Reservation | None]] = []
        rejected: list[Rejected] = []
        windows = self._windows[tenant.name][shape.message_class]
        marketing = shape.message_class == "marketing"
        for draft in drafts:
            field = "phone" if single else f"recipients[{draft.index}].phone"
            phone = draft.recipient.phone
            try:
                if marketing and self._optouts.contains(tenant.name, phone):
                    raise OptedOut("the recipient opted out of marketing messages", field)
                reservation = None
                if windows:
                    key = (tenant.name, shape.message_class, phone)
                    try:
                        reservation = self._counters.reserve(key, windows)
                    except LimitExceeded as exceeded:
                        raise RateLimited(exceeded, field) from None
            except Refusal as refusal:
                if single:
                    self._count_refused([refusal])
                    raise
                rejected.append(Rejected(draft.index, phone, refusal))
                continue
            admitted.append((draft, reservation))
        return admitted, rejected

    def _message(self, tenant: TenantSettings, shape: _Shape, draft: Draft) -> OutboundMessage:
        return OutboundMessage(
            message_id=self._ids.next(),
            tenant=tenant.name,
            phone=draft.recipient.phone,
            carrier=draft.recipient.carrier,
            message_class=shape.message_class,
            sign_name=shape.sign_name,
            template_id=shape.template.id,
            template_params=draft.params,
            content=draft.content,
            segments=draft.segments,
            accepted_at=self._clock.now(),
            pinned_supplier=shape.supplier,
        )

    def _count_accepted(self, message_class: str, messages: list[OutboundMessage]) -> None:
        metrics = self._metrics
        for carrier, count in Counter(m.carrier for m in messages).items():
            metrics.messages_accepted.labels(message_class, carrier).inc(count)
        metrics.segments_accepted.labels(message_class).inc(sum(m.segments for m in messages))

    def _count_refused(self, refusals: list[Refusal]) -> None:
        for reason, count in Counter(refusal.reason for refusal in refusals).items():
            self._metrics.messages_refused.labels(reason).inc(count)


def _batch_param_field(field: str, shared: Params, own: Params, param: str) -> str:
    """Where a batch parameter error points: the shared params unless the recipient's own."""
    return f"params.{param}" if param in shared and param not in own else f"{field}.params.{param}"


def _cancel(admitted: list[tuple[Draft, Reservation | None]]) -> None:
    for _, reservation in admitted:
        if reservation is not None:
            reservation.cancel()
