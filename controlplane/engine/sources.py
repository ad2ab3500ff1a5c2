"""The event sources windows read, and what one event of each contributes to a bucket.

Each source names its event type, the attributes a rule may group `by` (categorical strings and
flags, never ids, times or latencies), the fields a `filter` may read, and a `facts` function that
turns a batch of events into one (outcome, error code, latency bin, weight) fact per event. Facts
are computed once per batch and shared by every stream of the source, so a receipt's latency is
converted to a sketch bin once however many rules group receipts differently.

A fact's weight is how many events it stands for: the int 1, except for a receipt published
from a degradation sample (`Receipt.weight`, 1/sample_ratio). Such a weight is rounded to a
multiple of 1/WEIGHT_UNITS, so that float sums of weights are exact (they add and subtract
without rounding error, up to 2**53 / WEIGHT_UNITS events) and a window that lets its weighted
buckets go reads exactly zero again; the rounding moves a weight by at most 1/2048.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from controlplane.engine.sketch import MIN_INDEXED, ZERO_KEY, SketchMapping
from smsplatform.contracts import ProbeResult, Receipt, SubmitResult, SupplierLog

# outcome (status, accepted/rejected, level, ok/failed), error code or None, latency bin or None,
# and how many events the fact stands for (the int 1 unless weighted)
Fact = tuple[str, str | None, int | None, float]
FactsFn = Callable[[Sequence[Any], SketchMapping], list[Fact]]

RECEIPT_STATUSES: Final = ("DELIVERED", "FAILED", "EXPIRED", "REJECTED", "UNKNOWN")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Weights are whole multiples of 1/WEIGHT_UNITS (a power of two: exact in binary floats).
WEIGHT_UNITS: Final = 1024


def rounded_weight(weight: float) -> float:
    """A weight other than 1, rounded to a multiple of 1/WEIGHT_UNITS."""
    return round(weight * WEIGHT_UNITS) / WEIGHT_UNITS


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
    """Status, error code, the bin of the carrier's latency (reported_at − submitted_at), and
    the receipt's weight."""
    multiplier = mapping.multiplier
    log = math.log
    ceil = math.ceil
    facts: list[Fact] = []
    append = facts.append
    for receipt in receipts:
        latency = (receipt.reported_at - receipt.submitted_at).total_seconds()
        bin_key = ceil(log(latency, 2) * multiplier) if latency >= MIN_INDEXED else ZERO_KEY
        weight = receipt.weight
        # The int 1 for every unsampled receipt: unweighted counts stay ints.
        weight = 1 if weight == 1.0 else rounded_weight(weight)
        append((receipt.status, receipt.error_code, bin_key, weight))
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
        append(("accepted" if submit.accepted else "rejected", submit.error_code, bin_key, 1))
    return facts


def log_facts(logs: Sequence[SupplierLog], mapping: SketchMapping) -> list[Fact]:
    """The level and the code of each supplier log line; logs carry no latency."""
    return [(log.level, log.code or None, None, 1) for log in logs]


def probe_facts(probes: Sequence[ProbeResult], mapping: SketchMapping) -> list[Fact]:
    """ok or failed, and the bin of the probe's latency (ms)."""
    key = mapping.key
    return [("ok" if probe.ok else "failed", None, key(probe.latency_ms), 1) for probe in probes]


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
