"""Storage: SQLAlchemy models, Alembic migrations and a repository per aggregate."""

# Every model module is imported here so Base.metadata always holds every table.
from controlplane.storage import api_models as api_models
from controlplane.storage import dispatch_models as dispatch_models
from controlplane.storage.action_models import DegradationVersionRow, RoutingVersionRow
from controlplane.storage.alerting_models import NotificationLogRow, SilenceRow
from controlplane.storage.alerts import AlertEvent, AlertRepository, StoredAlert
from controlplane.storage.database import Database
from controlplane.storage.escalation_models import (
    EscalationAlertRow,
    EscalationRow,
    EscalationStepRow,
    VoiceCallRow,
)
from controlplane.storage.messages import MessageRepository, StoredMessage
from controlplane.storage.repositories import (
    OrphanReceipt,
    OrphanReceiptRepository,
    ProbeResultRepository,
    ReceiptRepository,
    SubmitResultRepository,
    SupplierLogRepository,
)
from controlplane.storage.taken_reports import HeldReport, TakenReport, TakenReportRepository

__all__ = [
    "AlertEvent",
    "AlertRepository",
    "Database",
    "DegradationVersionRow",
    "EscalationAlertRow",
    "EscalationRow",
    "EscalationStepRow",
    "HeldReport",
    "MessageRepository",
    "NotificationLogRow",
    "OrphanReceipt",
    "OrphanReceiptRepository",
    "ProbeResultRepository",
    "ReceiptRepository",
    "RoutingVersionRow",
    "SilenceRow",
    "StoredAlert",
    "StoredMessage",
    "SubmitResultRepository",
    "SupplierLogRepository",
    "TakenReport",
    "TakenReportRepository",
    "VoiceCallRow",
]
