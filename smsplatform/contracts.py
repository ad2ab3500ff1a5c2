"""Wire contracts shared with the send tier and probes, with fast strict JSON and msgpack codecs.

Everything that crosses a process boundary (HTTP ingest, the bus) is one of these msgspec Structs.
Validation is msgspec's: strict types, no unknown coercions, and errors that name the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, Final, Literal, TypeVar

import msgspec

UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]

MessageClass = Literal["otp", "notification", "marketing"]
ReceiptStatus = Literal["DELIVERED", "FAILED", "EXPIRED", "REJECTED", "UNKNOWN"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
SupplierState = Literal["active", "draining", "ejected", "probing", "pinned"]
DegradationLevel = Literal["normal", "sample", "shed_marketing", "shed_notification"]


class Receipt(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A carrier delivery receipt (status report), normalized from a supplier's dialect."""

    message_id: NonEmpty
    supplier: NonEmpty
    carrier: NonEmpty
    message_class: MessageClass
    status: ReceiptStatus
    submitted_at: UtcTime
    reported_at: UtcTime
    raw_status: str | None = None
    error_code: str | None = None
    # Set by whoever first receives the receipt; ingest stamps it when a client leaves it out.
    received_at: UtcTime | None = None
    # How many receipts this one stands for: 1/sample_ratio when degradation publishes only a
    # sample of a class's receipts, so windows keep honest counts and rates.
    weight: Annotated[float, msgspec.Meta(ge=1)] = 1.0


class OutboundMessage(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A validated message the send tier accepted, on its way to dispatch (`sms.submit`)."""

    message_id: NonEmpty
    tenant: NonEmpty
    phone: NonEmpty  # E.164
    carrier: NonEmpty
    message_class: MessageClass
    sign_name: NonEmpty
    template_id: NonEmpty
    template_params: dict[str, str]
    content: str  # the full text as the handset shows it, signature included
    segments: Annotated[int, msgspec.Meta(ge=1)]
    accepted_at: UtcTime
    # Supplier the client asked for (honoured like a pin), if any.
    pinned_supplier: str | None = None


class SubmitResult(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The outcome of one submit of one message to one supplier."""

    message_id: NonEmpty
    supplier: NonEmpty
    carrier: NonEmpty
    message_class: MessageClass
    accepted: bool
    latency_ms: Annotated[float, msgspec.Meta(ge=0)]
    at: UtcTime
    error_code: str | None = None
    # The supplier's own id for the send (BizId, SerialNo, SM…, msgid): how receipts find it.
    supplier_message_id: str | None = None
    # 1 for the first supplier tried, 2 for the next after a retriable failure, and so on.
    attempt: Annotated[int, msgspec.Meta(ge=1)] = 1
    # The dispatcher's reading of a failure (SUPPLIERS.md §7.2): retriable, throttled, ...
    error_class: str | None = None


class SupplierLog(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A structured line from a supplier adapter's log (errors, balance warnings, throttling)."""

    supplier: NonEmpty
    level: LogLevel
    code: str
    text: str
    at: UtcTime
    fields: dict[str, Any] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        # Storage keeps `fields` as JSON, which MariaDB refuses past ~30 levels: a deeper line
        # accepted here could never be written, and would hold up every line after it.
        if _nesting(self.fields) > MAX_FIELDS_NESTING:
            raise ValueError(f"fields: nested deeper than {MAX_FIELDS_NESTING} levels")


MAX_FIELDS_NESTING: Final = 16


def _nesting(value: Any) -> int:
    """How many containers deep `value` is (a flat dict is 1), without recursing."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_FIELDS_NESTING:  # deep enough to refuse: no need to look further
            stack.extend((child, depth + 1) for child in children)
    return deepest


class ProbeResult(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One run of one synthetic check."""

    probe: NonEmpty
    target: NonEmpty
    ok: bool
    at: UtcTime
    latency_ms: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    detail: str = ""
    labels: dict[str, str] = msgspec.field(default_factory=dict)


class RouteEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One supplier's place in a route: its state and traffic weight."""

    supplier: NonEmpty
    state: SupplierState
    weight: Annotated[float, msgspec.Meta(ge=0)]


class Route(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The ordered suppliers for one (carrier, message class)."""

    carrier: NonEmpty
    message_class: MessageClass
    suppliers: list[RouteEntry]


class RoutingTable(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A version of the routing table; the control plane owns it, dispatchers read it."""

    version: int
    at: UtcTime
    routes: list[Route]
    changed_by: str = ""
    reason: str = ""


def active_routes(
    configured: Iterable[tuple[str, MessageClass, Mapping[str, float]]],
) -> list[Route]:
    """Routes of (carrier, message class, supplier → weight) with every supplier active: the
    default routes a send tier starts with, and the control plane's version 1."""
    return [
        Route(
            carrier=carrier,
            message_class=message_class,
            suppliers=[
                RouteEntry(supplier=name, state="active", weight=weight)
                for name, weight in weights.items()
            ],
        )
        for carrier, message_class, weights in configured
    ]


class DegradationPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A version of the status-report degradation policy."""

    version: int
    at: UtcTime
    level: DegradationLevel
    sample_ratio: Annotated[float, msgspec.Meta(gt=0, le=1)] = 1.0
    until: UtcTime | None = None
    reason: str = ""


Event = Receipt | SubmitResult | SupplierLog | ProbeResult
EventT = TypeVar("EventT", Receipt, SubmitResult, SupplierLog, ProbeResult)

# The bus subject each kind of event travels on, and the kind names used in URLs and metrics.
EVENT_KINDS: Final[dict[str, tuple[type[Event], str]]] = {
    "receipts": (Receipt, "sms.receipts"),
    "submits": (SubmitResult, "sms.submitted"),
    "logs": (SupplierLog, "sms.supplier_logs"),
    "probes": (ProbeResult, "probe.results"),
}


class ContractError(ValueError):
    """An event that does not fit its contract; `field` names the offending JSON path."""

    def __init__(self, message: str, field: str | None, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # Position in a list being decoded, when the error was inside one.
        self.index = index


# What a body nested past the decoder's recursion limit gets told.
NESTED_TOO_DEEPLY: Final = "JSON nested too deeply"
_AT_PATH = re.compile(r"- at `\$(?:\[(\d+)\])?\.?([^`]*)`")
_MISSING = re.compile(r"missing required field `([^`]+)`")
_UNKNOWN = re.compile(r"unknown field `([^`]+)`")


def contract_error(exc: msgspec.MsgspecError | RecursionError) -> ContractError:
    """Turn msgspec's message into one that names the field (`$.a.b` → `a.b`)."""
    if isinstance(exc, RecursionError):  # msgspec's limit on nesting: no path to name
        return ContractError(NESTED_TOO_DEEPLY, None)
    text = str(exc)
    field = None
    index = None
    if match := _AT_PATH.search(text):
        index = int(match.group(1)) if match.group(1) is not None else None
        field = match.group(2) or None
    for pattern in (_MISSING, _UNKNOWN):
        if found := pattern.search(text):
            field = f"{field}.{found.group(1)}" if field else found.group(1)
    return ContractError(text, field, index)


_json_encoder = msgspec.json.Encoder()
_msgpack_encoder = msgspec.msgpack.Encoder()
_json_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}
_json_list_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}
_msgpack_list_decoders: dict[type[Any], msgspec.msgpack.Decoder[Any]] = {}
for _kind_type, _subject in EVENT_KINDS.values():
    _json_decoders[_kind_type] = msgspec.json.Decoder(_kind_type)
    _json_list_decoders[_kind_type] = msgspec.json.Decoder(list[_kind_type])  # type: ignore[valid-type]
    _msgpack_list_decoders[_kind_type] = msgspec.msgpack.Decoder(list[_kind_type])  # type: ignore[valid-type]


def to_json(value: Any) -> bytes:
    return _json_encoder.encode(value)


def decode_json(kind: type[EventT], data: bytes) -> EventT:
    """Decode one JSON event; raises ContractError naming the field."""
    try:
        return _json_decoders[kind].decode(data)  # type: ignore[no-any-return]
    except (msgspec.MsgspecError, RecursionError) as exc:
        raise contract_error(exc) from None


def decode_json_list(kind: type[EventT], data: bytes) -> list[EventT]:
    """Decode a JSON array of events in one pass; raises ContractError naming the field."""
    try:
        return _json_list_decoders[kind].decode(data)  # type: ignore[no-any-return]
    except (msgspec.MsgspecError, RecursionError) as exc:
        raise contract_error(exc) from None


def encode_batch(events: list[EventT]) -> bytes:
    """The bus payload for a batch of events of one kind: a msgpack array."""
    return _msgpack_encoder.encode(events)


def decode_batch(kind: type[EventT], payload: bytes) -> list[EventT]:
    """Decode a bus payload written by encode_batch."""
    return _msgpack_list_decoders[kind].decode(payload)  # type: ignore[no-any-return]
