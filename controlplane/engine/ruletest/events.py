"""What a test's event generator builds for each stream source: defaults, time fields, checks.

A generator names only the fields its test is about; everything else takes a default, so
`{at: 0s..5m, every: 1s, status: FAILED}` is a complete line of receipts. The defaults:

- every source but probes: `supplier: supplier-a`; receipts and submits: `carrier: cmcc`,
  `message_class: otp`, and a `message_id` unique within the test.
- receipts: `status: DELIVERED`, `latency: 2s`. A receipt arrives at its tick: `reported_at` is
  the tick time and `submitted_at` is `latency` earlier (a carrier cannot report in the future).
- submits: `accepted: true`, `latency: 200ms` (into `latency_ms`), `at` = the tick time.
- supplier_logs: `level: INFO`, `code: ""`, `text: ""`, `at` = the tick time.
- probes: `probe: delivery`, `target: supplier-a`, `ok: true`, `latency: 0s`, `at` = the tick.

Times come from the timeline only: `at`, `submitted_at`, `reported_at` and `received_at` cannot
be set, and latency is written as a duration (`latency: 90s`), never as `latency_ms`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Final

import msgspec

from smsplatform.contracts import (
    ContractError,
    ProbeResult,
    Receipt,
    SubmitResult,
    SupplierLog,
    contract_error,
)

LATENCY: Final = "latency"
# Fields the timeline sets: the tick's time, and the latency (as a duration).
_TIMELINE_FIELDS: Final = frozenset({"at", "submitted_at", "reported_at", "received_at"})
_LATENCY_FIELDS: Final = frozenset({"latency_ms"})

Placer = Callable[[dict[str, Any], datetime, float], None]


def _receipt_times(fields: dict[str, Any], at: datetime, latency_s: float) -> None:
    fields["reported_at"] = at
    fields["submitted_at"] = at - timedelta(seconds=latency_s)


def _at_with_latency_ms(fields: dict[str, Any], at: datetime, latency_s: float) -> None:
    fields["at"] = at
    fields["latency_ms"] = latency_s * 1000.0


def _at(fields: dict[str, Any], at: datetime, latency_s: float) -> None:
    fields["at"] = at


@dataclass(frozen=True)
class EventShape:
    """How one source's events are built from a generator's fields and a tick time."""

    event_type: type[Any]
    defaults: Mapping[str, Any]
    default_latency_s: float | None  # None: this source's events carry no latency
    place_in_time: Placer
    # Dict-valued fields: a mapping written there is the value itself, not weighted choices.
    map_fields: frozenset[str] = frozenset()

    @cached_property  # read for every event built
    def settable(self) -> frozenset[str]:
        """The fields a generator may set."""
        names = {field.name for field in msgspec.structs.fields(self.event_type)}
        names -= _TIMELINE_FIELDS | _LATENCY_FIELDS
        if self.default_latency_s is not None:
            names.add(LATENCY)
        return frozenset(names)

    @cached_property
    def has_message_id(self) -> bool:
        return "message_id" in self.settable

    def build(self, values: Mapping[str, Any], at: datetime, message_id: str) -> Any:
        """The event for one tick; `values` must have passed `problem`."""
        return self.event_type(**self._arguments(values, at, message_id))

    def problem(self, values: Mapping[str, Any], at: datetime) -> ContractError | None:
        """What is wrong with an event built from `values`, naming the field; None if nothing."""
        try:
            msgspec.convert(self._arguments(values, at, "check"), self.event_type)
        except msgspec.ValidationError as exc:
            return contract_error(exc)
        return None

    def _arguments(
        self, values: Mapping[str, Any], at: datetime, message_id: str
    ) -> dict[str, Any]:
        arguments = {**self.defaults, **values}
        latency_s = arguments.pop(LATENCY, self.default_latency_s)
        if self.has_message_id:
            arguments.setdefault("message_id", message_id)
        self.place_in_time(arguments, at, latency_s or 0.0)
        return arguments


_SUPPLIER_A: Final = "supplier-a"

EVENT_SHAPES: Final[Mapping[str, EventShape]] = {
    "receipts": EventShape(
        Receipt,
        {
            "supplier": _SUPPLIER_A,
            "carrier": "cmcc",
            "message_class": "otp",
            "status": "DELIVERED",
        },
        2.0,
        _receipt_times,
    ),
    "submits": EventShape(
        SubmitResult,
        {"supplier": _SUPPLIER_A, "carrier": "cmcc", "message_class": "otp", "accepted": True},
        0.2,
        _at_with_latency_ms,
    ),
    "supplier_logs": EventShape(
        SupplierLog,
        {"supplier": _SUPPLIER_A, "level": "INFO", "code": "", "text": ""},
        None,
        _at,
        map_fields=frozenset({"fields"}),
    ),
    "probes": EventShape(
        ProbeResult,
        {"probe": "delivery", "target": _SUPPLIER_A, "ok": True},
        0.0,
        _at_with_latency_ms,
        map_fields=frozenset({"labels"}),
    ),
}
