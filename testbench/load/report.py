"""What a load run counted: messages by outcome and request latency, as a LoadReport."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from ddsketch import DDSketch


@dataclass(frozen=True)
class LoadReport:
    """What a run sent and how the API answered; counts are messages, latencies per request."""

    duration_s: float
    requests: int
    sent: int
    accepted: int
    rate_limited: int
    refused: int  # other 4xx: invalid, opted out
    errors: int  # 5xx, timeouts, connection failures
    skipped: int  # due but not sent: max_in_flight requests were already waiting to be sent
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    # Messages due, by class and by carrier (skipped ones included).
    offered_by_class: dict[str, int] = field(default_factory=dict)
    offered_by_carrier: dict[str, int] = field(default_factory=dict)

    @property
    def accepted_per_s(self) -> float:
        return self.accepted / self.duration_s if self.duration_s > 0 else 0.0

    def summary(self) -> str:
        """One key=value line."""
        return (
            f"duration_s={self.duration_s:.2f} requests={self.requests} sent={self.sent} "
            f"accepted={self.accepted} rate_limited={self.rate_limited} refused={self.refused} "
            f"errors={self.errors} skipped={self.skipped} "
            f"accepted_per_s={self.accepted_per_s:.1f} p50_ms={self.latency_p50_ms:.2f} "
            f"p99_ms={self.latency_p99_ms:.2f} max_ms={self.latency_max_ms:.2f}"
        )


class Tally:
    """Running counts and the latency sketch of one run."""

    def __init__(self) -> None:
        self.requests = 0
        self.accepted = 0
        self.rate_limited = 0
        self.refused = 0
        self.errors = 0
        self.latency_ms = DDSketch()

    def answered(self, messages: int, status: int, body: bytes, latency_s: float) -> None:
        self.requests += 1
        self.latency_ms.add(latency_s * 1000)
        if status == 202:
            if messages == 1:
                self.accepted += 1
                return
            answer = orjson.loads(body)
            self.accepted += answer["accepted"]
            for rejected in answer["rejected"]:
                if "limit" in rejected:
                    self.rate_limited += 1
                else:
                    self.refused += 1
        elif status == 429:
            self.rate_limited += messages
        elif 400 <= status < 500:
            self.refused += messages
        else:
            self.errors += messages

    def failed(self, messages: int) -> None:
        self.requests += 1
        self.errors += messages
