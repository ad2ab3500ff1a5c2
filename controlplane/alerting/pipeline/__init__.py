"""The notification pipeline: inhibit, silence, group/wait, dedup, notify with fallback, record."""

from controlplane.alerting.pipeline.escalating import Escalator
from controlplane.alerting.pipeline.model import Channel, Receiver
from controlplane.alerting.pipeline.notification_log import LogEntry, NotificationLog
from controlplane.alerting.pipeline.silences import Silence, SilenceRepository
from controlplane.alerting.pipeline.stage import AlertingStage

__all__ = [
    "AlertingStage",
    "Channel",
    "Escalator",
    "LogEntry",
    "NotificationLog",
    "Receiver",
    "Silence",
    "SilenceRepository",
]
