"""The notification pipeline: inhibit, silence, group/wait, dedup, notify with fallback, record."""

from controlplane.alerting.pipeline.matchers import Matcher, parse_matcher
from controlplane.alerting.pipeline.model import (
    Budget,
    Channel,
    InhibitRule,
    Receiver,
    Router,
    RouteTarget,
)
from controlplane.alerting.pipeline.notification_log import LogEntry, NotificationLog
from controlplane.alerting.pipeline.ratelimit import SlidingWindowBudget
from controlplane.alerting.pipeline.silences import Silence, SilenceRepository
from controlplane.alerting.pipeline.stage import AlertingStage

__all__ = [
    "AlertingStage",
    "Budget",
    "Channel",
    "InhibitRule",
    "LogEntry",
    "Matcher",
    "NotificationLog",
    "Receiver",
    "RouteTarget",
    "Router",
    "Silence",
    "SilenceRepository",
    "SlidingWindowBudget",
    "parse_matcher",
]
