"""Alert state: fingerprints, the Prometheus-shaped state machine, and the hand-off to alerting."""

from controlplane.engine.alerts.failing import EVALUATION_FAILING, EvaluationFailingAlert
from controlplane.engine.alerts.fingerprint import fingerprint
from controlplane.engine.alerts.state import (
    Alert,
    AlertLimitExceeded,
    AlertState,
    AlertStateMachine,
    AlertTransition,
    NoDataPolicy,
    Sample,
    StateTiming,
)

__all__ = [
    "EVALUATION_FAILING",
    "Alert",
    "AlertLimitExceeded",
    "AlertState",
    "AlertStateMachine",
    "AlertTransition",
    "EvaluationFailingAlert",
    "NoDataPolicy",
    "Sample",
    "StateTiming",
    "fingerprint",
]
