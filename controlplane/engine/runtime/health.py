"""Each rule's evaluation health, as `GET /v1/rules` shows it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

Health = Literal["unknown", "ok", "err"]


@dataclass(frozen=True)
class RuleHealth:
    """How a rule's last evaluation went."""

    rule_key: str
    kind: Literal["alert", "record"]
    source: str
    health: Health = "unknown"
    last_evaluated_at: datetime | None = None
    last_duration_ms: float = 0.0
    last_error: str | None = None

    def succeeded(self, at: datetime, duration_ms: float) -> RuleHealth:
        return replace(
            self, health="ok", last_evaluated_at=at, last_duration_ms=duration_ms, last_error=None
        )

    def failed(self, at: datetime, duration_ms: float, error: str) -> RuleHealth:
        return replace(
            self, health="err", last_evaluated_at=at, last_duration_ms=duration_ms, last_error=error
        )
