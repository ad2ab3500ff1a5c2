"""How one simulator is set up: its dialect, the account it answers for, callback URL and plan."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from suppliers.settings import SupplierAccount
from testbench.simulators.plan import FaultPlan

Dialect = Literal["aliyun", "tencent", "twilio", "cmpp"]


class SimulatorConfig(BaseModel):
    """One simulated supplier account.

    `account` has the shape the send tier's settings use for that dialect (sendtier/settings.py),
    so an adapter configured with the same account talks to this simulator unchanged.
    `callback_url` is the receipt URL set in the supplier's console (Alibaba, Tencent, CMPP);
    Twilio takes it per message (`StatusCallback`) and falls back to this one. `dialect=` may
    be passed too; it is the account's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    account: SupplierAccount
    callback_url: str | None = None
    plan: FaultPlan = FaultPlan()
    seed: int = 0
    push_interval_s: float = Field(0.05, gt=0.0)  # how often the background pusher looks
    background_push: bool = True  # off: receipts move only on POST /_sim/flush (or pulls)
    max_records: int = Field(200_000, ge=1)  # submissions kept for status queries

    @model_validator(mode="before")
    @classmethod
    def _dialect_into_account(cls, data: Any) -> Any:
        """`dialect=` may name the dialect of an account given as a mapping without one."""
        if not isinstance(data, dict) or "dialect" not in data:
            return data
        data = dict(data)
        dialect, account = data.pop("dialect"), data.get("account")
        given = account.get("dialect", dialect) if isinstance(account, dict) else None
        if isinstance(account, dict):
            data["account"] = {**account, "dialect": dialect}
        if (given or getattr(account, "dialect", dialect)) != dialect:
            raise ValueError(f"dialect {dialect} does not match the account's")
        return data

    @property
    def dialect(self) -> Dialect:
        return self.account.dialect
