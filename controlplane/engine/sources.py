"""The event sources windows read, and what one event of each contributes to a bucket.

Each source names its event type, the attributes a rule may group `by` (categorical strings and
flags, never ids, times or latencies), the fields a `filter` may read, and a `facts` function that
turns a batch of events into one (outcome, error code, latency bin) triple per event. Facts are
computed once per batch and shared by every stream of the source, so a receipt's latency is
converted to a sketch bin once however many rules group receipts differently.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from controlplane.contracts import ProbeResult, Receipt, SubmitResult, SupplierLog
from controlplane.engine.sketch import MIN_INDEXED, ZERO_KEY, SketchMapping

# outcome (status, accepted/rejected, level, ok/failed), error code or None, latency bin or None
Fact = tuple[str, str | None, int | None]
FactsFn = Callable[[Sequence[Any], SketchMapping], list[Fact]]

RECEIPT_STATUSES: Final = ("DELIVERED", "FAILED", "EXPIRED", "REJECTED", "UNKNOWN")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Source:
    """One kind of event windows aggregate, as rules name it in `source:`."""

    name: str
    event_type: type[Any]
    # Event attributes a rule may group `by`.
    label_attributes: frozenset[str]
    # A dict attribute whose keys may also be grouped by (a probe's free-form `labels`).
    label_map: str | None
    # Fields a filter reads whose values repeat (so a filter's verdict can be memoized on them).
    categorical: frozenset[str]
    facts: FactsFn

    @property
    def fields(self) -> frozenset[str]:
        """Every field of the event type: what a filter expression may read."""
        return frozenset(field.name for field in msgspec.structs.fields(self.event_type))


def receipt_facts(receipts: Sequence[Receipt], mapping: SketchMapping) -> list[Fact]:
    """Status, error code and the bin of the carrier's latency (reported_at − submitted_at)."""
    multiplier = mapping.multiplier
    log = math.log
    ceil = math.ceil
    facts: list[Fact] = []
    append = facts.append
    for receipt in receipts:
        latency = (receipt.reported_at - receipt.submitted_at).total_seconds()
        bin_key = ceil(log(latency, 2) * multiplier) if latency >= MIN_INDEXED else ZERO_KEY
        append((receipt.status, receipt.error_code, bin_key))
    return facts


def submit_facts(submits: Sequence[SubmitResult], mapping: SketchMapping) -> list[Fact]:
    """Accepted or rejected, the error code, and the bin of the submit latency (ms)."""
    multiplier = mapping.multiplier
    log = math.log
    ceil = math.ceil
    facts: list[Fact] = []
    append = facts.append
    for submit in submits:
        latency = submit.latency_ms
        bin_key = ceil(log(latency, 2) * multiplier) if latency >= MIN_INDEXED else ZERO_KEY
        append(("accepted" if submit.accepted else "rejected", submit.error_code, bin_key))
    return facts


def log_facts(logs: Sequence[SupplierLog], mapping: SketchMapping) -> list[Fact]:
    """The level and the code of each supplier log line; logs carry no latency."""
    return [(log.level, log.code or None, None) for log in logs]


def probe_facts(probes: Sequence[ProbeResult], mapping: SketchMapping) -> list[Fact]:
    """ok or failed, and the bin of the probe's latency (ms)."""
    key = mapping.key
    return [("ok" if probe.ok else "failed", None, key(probe.latency_ms)) for probe in probes]


_RECEIPT_LABELS: Final = frozenset(
    {"supplier", "carrier", "message_class", "status", "raw_status", "error_code"}
)

SOURCES: Final[dict[str, Source]] = {
    source.name: source
    for source in (
        Source(
            "receipts",
            Receipt,
            _RECEIPT_LABELS,
            None,
            _RECEIPT_LABELS,
            receipt_facts,
        ),
        Source(
            "submits",
            SubmitResult,
            frozenset(
                {"supplier", "carrier", "message_class", "accepted", "error_code", "error_class"}
            ),
            None,
            frozenset(
                {
                    "supplier",
                    "carrier",
                    "message_class",
                    "accepted",
                    "error_code",
                    "error_class",
                    "attempt",
                }
            ),
            submit_facts,
        ),
        Source(
            "supplier_logs",
            SupplierLog,
            frozenset({"supplier", "level", "code"}),
            None,
            frozenset({"supplier", "level", "code"}),
            log_facts,
        ),
        Source(
            "probes",
            ProbeResult,
            frozenset({"probe", "target"}),
            "labels",
            frozenset({"probe", "target", "ok"}),
            probe_facts,
        ),
    )
}


def source_named(name: str) -> Source:
    """The source a rule names, or a ValueError listing the ones that exist."""
    try:
        return SOURCES[name]
    except KeyError:
        known = ", ".join(SOURCES)
        raise ValueError(f"unknown source {name!r}; windows read: {known}") from None
