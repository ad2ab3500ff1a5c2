"""What the health model finds: why a supplier is unfit for a carrier, in numbers and in words,
and what a canary step's receipts showed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from controlplane.actions.decisions import duration_text
from controlplane.actions.sequential import Mark

Signal = Literal["delivery", "submits", "receipts_missing", "supplier_down"]
CanaryVerdict = Literal["healthy", "unhealthy", "undecided"]
# A finding about a supplier as a whole names this carrier.
EVERY_CARRIER: Final = "*"


@dataclass(frozen=True)
class Finding:
    """Why a supplier is unfit for a carrier now, with the values seen."""

    supplier: str
    carrier: str
    signal: Signal
    rate: float | None = None  # success share over the evidence (delivery, acceptance, receipts)
    events: float = 0.0  # receipts or submits the finding rests on
    span_s: float = 0.0
    peer_rate: float | None = None
    detail: str = ""

    def describe(self) -> str:
        """The words a notification uses: "delivery 61% over 2m, 1,240 receipts"."""
        span = duration_text(self.span_s)
        if self.signal == "supplier_down":
            return f"supplier down: {self.detail}"
        rate = f"{(self.rate or 0.0) * 100:.0f}%"
        peers = "" if self.peer_rate is None else f" (peers {self.peer_rate * 100:.0f}%)"
        if self.signal == "delivery":
            return f"delivery {rate} over {span}, {self.events:,.0f} receipts{peers}"
        if self.signal == "submits":
            return f"submits accepted {rate} over {span}, {self.events:,.0f} submits{peers}"
        return f"receipts missing: {rate} of {self.events:,.0f} accepted submits got one in {span}"

    def evidence(self) -> dict[str, object]:
        return {
            "signal": self.signal,
            "supplier": self.supplier,
            "carrier": self.carrier,
            "rate": self.rate,
            "events": self.events,
            "span_s": self.span_s,
            "peer_rate": self.peer_rate,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class CanaryReading:
    """What one canary step's receipts showed and the verdict drawn from them: the values a
    promotion, a restore or a re-ejection is stored with."""

    verdict: CanaryVerdict
    judged_on: str = "receipts"  # a `*` route has none per carrier: "balance and time served"
    receipts: float = 0.0  # since the step began (weighted, as the test counts them)
    delivered: float = 0.0
    llr: float = 0.0  # the step's SPRT sum of 60 % against 97 % delivery
    healthy_at_most: float = 0.0  # Wald's lower boundary: the sum that means "healthy"
    min_receipts: int = 0

    @classmethod
    def judge(
        cls, unfit: bool, step: Mark | None, healthy_at_most: float, min_receipts: int
    ) -> CanaryReading:
        """Unhealthy on any finding; healthy once the step's receipts (`step`: none while no
        canary evidence is kept) accept 97 %: Wald's lower boundary, on `min_receipts` of them;
        else undecided."""
        counted = step or Mark()
        verdict: CanaryVerdict = "undecided"
        if unfit:
            verdict = "unhealthy"
        elif step is not None and step.total >= min_receipts and step.llr <= healthy_at_most:
            verdict = "healthy"
        return cls(
            verdict,
            "receipts",
            counted.total,
            counted.successes,
            counted.llr,
            healthy_at_most,
            min_receipts,
        )

    def evidence(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "judged_on": self.judged_on,
            "receipts": self.receipts,
            "delivered": self.delivered,
            "delivered_share": self.delivered / self.receipts if self.receipts else None,
            "llr": self.llr,
            "healthy_at_most": self.healthy_at_most,
            "min_receipts": self.min_receipts,
        }
