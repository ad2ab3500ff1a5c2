"""Settings of supplier cut-over: initial routes, the health model, safety and failback knobs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from smsplatform.contracts import MessageClass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InitialRoute(_Strict):
    """One route of routing-table version 1: the same shape as the send tier's default_routes."""

    carrier: str = Field(min_length=1)
    message_class: MessageClass
    suppliers: dict[str, float] = Field(min_length=1)  # supplier name → weight

    @field_validator("suppliers")
    @classmethod
    def _weights_not_negative(cls, suppliers: dict[str, float]) -> dict[str, float]:
        for name, weight in suppliers.items():
            if weight < 0 or not math.isfinite(weight):
                raise ValueError(f"weight of {name!r} must be a finite number ≥ 0")
        return suppliers


class HealthSettings(_Strict):
    """The per (supplier, carrier) health model (controlplane/actions/health.py)."""

    # The delivery test: healthy p0 against faulty p1, Wald's error rates.
    delivery_p0: float = Field(0.97, gt=0, lt=1)
    delivery_p1: float = Field(0.60, gt=0, lt=1)
    alpha: float = Field(0.01, gt=0, lt=0.5)
    beta: float = Field(0.01, gt=0, lt=0.5)
    # The same test on submit acceptance (retriable/timeout/supplier-wide failures only).
    submit_p0: float = Field(0.99, gt=0, lt=1)
    submit_p1: float = Field(0.50, gt=0, lt=1)
    # Expected time between false alarms per (supplier, carrier) at the rate seen: raises the
    # test's threshold to ln(rate × horizon). 0 keeps Wald's ln((1-β)/α) (fast, but at 10/s it
    # would cut over by mistake every minute or so).
    false_alarm_horizon_s: float = Field(6 * 3600.0, ge=0)
    # Events a suspicion must rest on before it counts.
    min_volume: int = Field(5, ge=1)
    # Outlier: the supplier's rate must be this much below its peers' on the same carrier.
    peer_margin: float = Field(0.10, ge=0, lt=1)
    # Span of the recent rates (peers, notification text) and of the rate estimate.
    recent_window_s: int = Field(120, ge=1)
    # Receipts overdue: later than factor × the supplier's usual delay (and than min_s).
    receipt_overdue_factor: float = Field(3.0, gt=1)
    receipt_overdue_min_s: float = Field(10.0, gt=0)
    # Share of accepted submits of the overdue span with no receipt that means "receipts missing".
    receipts_missing_share: float = Field(0.5, gt=0, le=1)
    receipts_missing_min_submits: int = Field(20, ge=1)
    # How long a supplier-wide failure (balance, account) keeps a supplier unusable, at least.
    supplier_down_s: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _faulty_below_healthy(self) -> HealthSettings:
        if self.delivery_p1 >= self.delivery_p0:
            raise ValueError("delivery_p1 must be below delivery_p0")
        if self.submit_p1 >= self.submit_p0:
            raise ValueError("submit_p1 must be below submit_p0")
        return self


class SafetySettings(_Strict):
    # At most this share of a route's suppliers out of traffic (ejected or draining) at once.
    max_ejected_share: float = Field(0.5, gt=0, le=1)
    # No automatic change of one route sooner than this after the last one (no flapping).
    min_dwell_s: float = Field(10.0, ge=0)


class FailbackSettings(_Strict):
    # How long an ejected supplier rests before it gets canary traffic.
    cooldown_s: float = Field(120.0, ge=0)
    # Canary shares, in order; 1.0 (the last) means back to its configured weight.
    steps: list[float] = Field([0.01, 0.05, 0.25, 1.0], min_length=1)
    # A step lasts at least this long, and until its receipts show health.
    window_s: float = Field(30.0, gt=0)

    @field_validator("steps")
    @classmethod
    def _rising_shares_ending_at_one(cls, steps: list[float]) -> list[float]:
        if any(not 0 < step <= 1 for step in steps):
            raise ValueError("each step is a share in (0, 1]")
        if any(later <= earlier for earlier, later in pairwise(steps)):
            raise ValueError("steps must rise")
        if steps[-1] != 1.0:
            raise ValueError("the last step must be 1.0 (full traffic)")
        return steps


class CutoverSettings(_Strict):
    """`cutover:` in smsctl.yaml."""

    # Automatic cut-over and failback; off, the table is still owned and operators' commands work.
    enabled: bool = True
    # Routing-table version 1, stored and published when no version is stored yet.
    routes: list[InitialRoute] = []
    health: HealthSettings = HealthSettings()
    safety: SafetySettings = SafetySettings()
    failback: FailbackSettings = FailbackSettings()
    # How long an action's notification stays firing before it is resolved (no endless repeats).
    notice_hold_s: float = Field(300.0, gt=0)
    # Timer-driven decisions (overdue receipts, cool-downs, canary windows) run this often.
    tick_s: float = Field(1.0, gt=0)
    # Durable consumer names on the bus: one set per control plane.
    durable_prefix: str = Field("cutover-", pattern=r"^[A-Za-z0-9_-]{1,48}$")


def owning_routes(
    settings: CutoverSettings, send_tier_routes: Sequence[BaseModel]
) -> CutoverSettings:
    """`settings`, taking the send tier's default routes as version 1 unless routes are set."""
    if settings.routes:
        return settings
    routes = [InitialRoute.model_validate(route.model_dump()) for route in send_tier_routes]
    return settings.model_copy(update={"routes": routes})
