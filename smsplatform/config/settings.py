"""Settings every service shares: the strict base model, the database and the bus."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from smsplatform.bus.liveness import STUCK_AFTER_S


class StrictSettings(BaseModel):
    """A settings section: unknown keys are errors, values are frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(StrictSettings):
    url: str = "sqlite:///var/smsctl.db"


class BusSettings(StrictSettings):
    backend: Literal["memory", "jetstream"] = "memory"
    url: str = "nats://127.0.0.1:4222"
    stream: str = Field("SMSCTL", pattern=r"^[A-Za-z0-9_-]+$")
    namespace: str = Field("smsctl", pattern=r"^[A-Za-z0-9_-]+$")
    ack_wait_s: float = Field(30.0, gt=0)
    # A consumer that completes no fetch for this long is `stuck` on /healthz (503).
    consumer_stuck_after_s: float = Field(STUCK_AFTER_S, gt=0)
