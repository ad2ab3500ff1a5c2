"""What the health model finds: why a supplier is unfit for a carrier, in numbers and in words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from controlplane.actions.decisions import duration_text

Signal = Literal["delivery", "submits", "receipts_missing", "supplier_down"]
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
