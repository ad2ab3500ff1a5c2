"""A simulated account balance: units spent per billed segment, refused when they run out."""

from __future__ import annotations

from dataclasses import dataclass

from testbench.simulators.plan import BalancePlan


@dataclass(frozen=True, slots=True)
class BalanceView:
    units: float | None  # None: unlimited
    unit: str
    low: bool  # at or under the plan's low_threshold

    def as_dict(self) -> dict[str, object]:
        return {"units": self.units, "unit": self.unit, "low": self.low}


class BalanceLedger:
    """The units left on the account; an unlimited ledger never refuses."""

    def __init__(self, plan: BalancePlan | None, default_unit: str) -> None:
        self.plan = plan
        self.unit = (plan.unit if plan and plan.unit else None) or default_unit
        self._units = plan.initial_units if plan else None

    def cost(self, segments: int) -> float:
        return segments * self.plan.cost_per_segment if self.plan else 0.0

    def covers(self, amount: float) -> bool:
        """Whether the balance pays `amount`; a zero balance pays nothing, not even free sends."""
        return self._units is None or (self._units > 0 and self._units >= amount - 1e-9)

    def spend(self, amount: float) -> None:
        if self._units is not None:
            self._units = max(0.0, self._units - amount)

    def view(self) -> BalanceView:
        units = self._units
        low = units is not None and self.plan is not None and units <= self.plan.low_threshold
        return BalanceView(units, self.unit, low)
