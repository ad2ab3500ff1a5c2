"""The fault plan of a supplier simulator (SUPPLIERS.md §8): a strict model, loadable from YAML.

Every knob has the default §8 lists; `None` on a knob with a per-dialect default (throttle,
per-recipient limits, magic numbers, retry schedule) means "the dialect's real behaviour".
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from smsplatform.config.yamlsource import ConfigError, YamlDocument, load_yaml, parse_yaml
from smsplatform.contracts import MessageClass

Carrier = Literal["cmcc", "cucc", "ctcc", "cbn", "unknown"]
Outcome = Literal["DELIVERED", "FAILED", "EXPIRED", "REJECTED", "UNKNOWN"]
OutageMode = Literal[
    "http_503",
    "connect_refused",
    "timeout",
    "auth_fail",
    "suspended",
    "signature_revoked",
    "template_revoked",
]
Rate = Annotated[float, Field(ge=0.0, le=1.0)]
Phone = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$")]
# The 99th percentile of a standard normal: turns (median, p99) into a lognormal's sigma.
_Z99 = 2.3263478740408408


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Distribution(_Strict):
    """A delay in milliseconds, given by its median and 99th percentile."""

    kind: Literal["fixed", "uniform", "lognormal"] = "lognormal"
    median_ms: float = Field(ge=0.0)
    p99_ms: float | None = Field(None, ge=0.0)  # unused for fixed; defaults to median_ms

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        p99 = self.p99_ms if self.p99_ms is not None else self.median_ms
        if p99 < self.median_ms:
            raise ValueError("p99_ms must not be below median_ms")
        if self.kind == "lognormal" and self.median_ms == 0 and p99 > 0:
            raise ValueError("a lognormal with median_ms 0 cannot have a p99_ms above 0")
        if self.kind == "uniform" and self.uniform_bounds()[0] < 0:
            raise ValueError("p99_ms too far above median_ms for a uniform range starting at 0")
        return self

    def uniform_bounds(self) -> tuple[float, float]:
        """[low, high] of the uniform whose median and 99th percentile are the given ones."""
        p99 = self.p99_ms if self.p99_ms is not None else self.median_ms
        width = (p99 - self.median_ms) / 0.49
        return self.median_ms - width / 2, self.median_ms + width / 2

    def lognormal_params(self) -> tuple[float, float]:
        """(mu, sigma) of the underlying normal, in log-milliseconds."""
        p99 = self.p99_ms if self.p99_ms is not None else self.median_ms
        mu = math.log(self.median_ms)
        return mu, (math.log(p99) - mu) / _Z99


class SubmitFaults(_Strict):
    latency: Distribution = Distribution(kind="lognormal", median_ms=80, p99_ms=400)
    timeout_rate: Rate = 0.0
    timeout_sends: bool = True  # a timed-out submit is still sent (the non-idempotency trap)
    timeout_hang_ms: float = Field(30_000.0, ge=0.0)  # how long a timed-out request hangs
    error_rate: Rate = 0.0
    # The dialect's real submit codes → weights; empty: the dialect's platform error.
    error_mix: dict[str, Annotated[float, Field(gt=0.0)]] = {}


class Throttle(_Strict):
    """A token bucket over API requests; excess gets the dialect's throttle answer."""

    qps: float = Field(gt=0.0)
    burst: int | None = Field(None, ge=1)  # default: one second of qps

    @property
    def capacity(self) -> float:
        return float(self.burst) if self.burst is not None else max(1.0, self.qps)


class LimitRule(_Strict):
    """At most `limit` accepted submits per `window_s` (rolling) per recipient key."""

    window_s: float = Field(gt=0.0)
    limit: int = Field(ge=1)
    classes: list[MessageClass] = []  # empty: every message class
    per: Literal["phone", "phone_signature", "phone_signature_template"] = "phone_signature"
    code: str = Field(min_length=1)  # the dialect's code for this rule
    message: str = ""


class BalancePlan(_Strict):
    initial_units: float = Field(ge=0.0)
    cost_per_segment: float = Field(1.0, gt=0.0)
    low_threshold: float = Field(0.0, ge=0.0)
    unit: str | None = None  # default: the dialect's unit (messages, USD)


class Outage(_Strict):
    """A window when the supplier misbehaves, absolute (`start`/`end`) or relative to plan load."""

    mode: OutageMode
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    start_in_s: float | None = Field(None, ge=0.0)
    end_in_s: float | None = Field(None, gt=0.0)

    @model_validator(mode="after")
    def _one_window(self) -> Self:
        absolute = self.start is not None or self.end is not None
        relative = self.start_in_s is not None or self.end_in_s is not None
        if absolute and relative:
            raise ValueError("give start/end or start_in_s/end_in_s, not both")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        if (
            self.start_in_s is not None
            and self.end_in_s is not None
            and self.end_in_s <= self.start_in_s
        ):
            raise ValueError("end_in_s must be after start_in_s")
        return self


class TemplateSpec(_Strict):
    """An approved template: its class (for per-recipient limits), variables and text."""

    message_class: MessageClass = "notification"
    params: list[str] = []  # variable names (Alibaba) or one name per position (Tencent)
    text: str | None = None  # with ${name} (Alibaba) or {1} (Tencent) placeholders: segments


class Approved(_Strict):
    """What the account owns; `None` means anything is approved."""

    signatures: list[str] | None = None
    templates: dict[str, TemplateSpec] | None = None
    senders: list[str] | None = None  # Twilio From numbers / MessagingServiceSids
    regions: list[str] | None = None  # Twilio geo permissions (ISO country codes)

    @field_validator("templates", mode="before")
    @classmethod
    def _list_of_codes(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {str(code): {} for code in value}
        return value


class OutcomeShare(_Strict):
    weight: float = Field(ge=0.0)
    codes: list[str] = []  # raw codes to pick from uniformly; empty: the dialect's defaults


class OutcomeWeights(_Strict):
    """Relative weights of the delivery outcomes; a number is a weight with default codes."""

    DELIVERED: OutcomeShare = OutcomeShare(weight=0.97)
    FAILED: OutcomeShare = OutcomeShare(weight=0.02)
    EXPIRED: OutcomeShare = OutcomeShare(weight=0.005)
    REJECTED: OutcomeShare = OutcomeShare(weight=0.005)
    UNKNOWN: OutcomeShare = OutcomeShare(weight=0.0)

    @field_validator("DELIVERED", "FAILED", "EXPIRED", "REJECTED", "UNKNOWN", mode="before")
    @classmethod
    def _bare_weight(cls, value: Any) -> Any:
        return {"weight": value} if isinstance(value, int | float) else value

    @model_validator(mode="after")
    def _some_weight(self) -> Self:
        if sum(share.weight for _, share in self.shares()) <= 0:
            raise ValueError("at least one outcome needs a weight above 0")
        return self

    def shares(self) -> list[tuple[Outcome, OutcomeShare]]:
        return [
            ("DELIVERED", self.DELIVERED),
            ("FAILED", self.FAILED),
            ("EXPIRED", self.EXPIRED),
            ("REJECTED", self.REJECTED),
            ("UNKNOWN", self.UNKNOWN),
        ]


class DeliveryPlan(_Strict):
    default: OutcomeWeights = OutcomeWeights()
    cmcc: OutcomeWeights | None = None
    cucc: OutcomeWeights | None = None
    ctcc: OutcomeWeights | None = None
    cbn: OutcomeWeights | None = None
    unknown: OutcomeWeights | None = None

    def for_carrier(self, carrier: str) -> OutcomeWeights:
        found = getattr(self, carrier, None) if carrier in _CARRIERS else None
        return found if isinstance(found, OutcomeWeights) else self.default


_CARRIERS = frozenset(("cmcc", "cucc", "ctcc", "cbn", "unknown"))


class Batching(_Strict):
    max_per_push: int = Field(1, ge=1)
    flush_interval_ms: float = Field(0.0, ge=0.0)


class RetryPlan(_Strict):
    enabled: bool = True
    schedule_s: list[Annotated[float, Field(gt=0.0)]] | None = None  # None: the dialect's


class ReceiptPlan(_Strict):
    delay: Distribution = Distribution(kind="lognormal", median_ms=3_000, p99_ms=60_000)
    delay_by_carrier: dict[Carrier, Distribution] = {}
    validity_s: float = Field(48 * 3600.0, gt=0.0)  # when EXPIRED receipts arrive
    loss_rate: Rate = 0.0
    duplicate_rate: Rate = 0.0
    reorder_rate: Rate = 0.0
    batching: Batching = Batching()
    retry: RetryPlan = RetryPlan()
    push_timeout_ms: float = Field(5_000.0, gt=0.0)

    def delay_for(self, carrier: str) -> Distribution:
        for name, distribution in self.delay_by_carrier.items():
            if name == carrier:
                return distribution
        return self.delay


class MagicOutcome(_Strict):
    """A fixed fate for a test recipient; outcome NONE means accepted but never reported."""

    outcome: Literal["DELIVERED", "FAILED", "EXPIRED", "REJECTED", "UNKNOWN", "NONE"]
    code: str | None = None  # default: the dialect's first code for the outcome
    delay_ms: float = Field(0.0, ge=0.0)


class FaultPlan(_Strict):
    """Everything a simulator does differently from a perfect supplier."""

    seed: int | None = None  # reseeds the simulator's random source when the plan is applied
    submit: SubmitFaults = SubmitFaults()
    throttle: Throttle | Literal[False] | None = None  # None: the dialect's API limit; false: off
    per_recipient_limits: list[LimitRule] | None = None  # None: the dialect's defaults
    balance: BalancePlan | None = None  # None: unlimited
    outages: list[Outage] = []
    approved: Approved = Approved()
    opted_out: list[Phone] = []  # recipients who unsubscribed / are blacklisted
    delivery: DeliveryPlan = DeliveryPlan()
    receipts: ReceiptPlan = ReceiptPlan()
    magic_numbers: dict[Phone, MagicOutcome] | None = None  # None: the dialect's defaults
    verify_signatures: bool = True


def parse_plan(data: Any, file: str = "<plan>", document: YamlDocument | None = None) -> FaultPlan:
    """Validate a plan given as plain data; ConfigError names file, line (from YAML) and field."""
    where = document or YamlDocument(file=file, data=data, root=None)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([where.problem((), "a fault plan must be a mapping")])
    try:
        return FaultPlan.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(where.problem(loc, message))
        raise ConfigError(problems) from None


def load_plan(path: Path) -> FaultPlan:
    """A plan from a YAML file."""
    document = load_yaml(path)
    return parse_plan(document.data, document.file, document)


def plan_from_yaml(text: str, file: str = "<plan>") -> FaultPlan:
    document = parse_yaml(text, file)
    return parse_plan(document.data, file, document)


def outage_window(outage: Outage, applied_at: datetime) -> tuple[datetime | None, datetime | None]:
    """The absolute [start, end) of an outage; a relative one counts from when its plan applied."""
    if outage.start_in_s is not None or outage.end_in_s is not None:
        start = applied_at + timedelta(seconds=outage.start_in_s or 0.0)
        end = applied_at + timedelta(seconds=outage.end_in_s) if outage.end_in_s else None
        return start, end
    return outage.start, outage.end
