"""Alert state: fingerprints, the Prometheus-shaped state machine, and the hand-off to alerting."""

from controlplane.engine.alerts.fingerprint import fingerprint
from controlplane.engine.alerts.state import (
    Alert,
    AlertState,
    AlertStateMachine,
    AlertTransition,
    NoDataPolicy,
    Sample,
    StateTiming,
)

__all__ = [
    "Alert",
    "AlertState",
    "AlertStateMachine",
    "AlertTransition",
    "NoDataPolicy",
    "Sample",
    "StateTiming",
    "fingerprint",
]
