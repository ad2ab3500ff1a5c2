"""The control plane's storage: its tables, repositories and migrations (`alembic_version`)."""

from pathlib import Path

# Every model module is imported here so Base.metadata always holds every table.
from controlplane.storage.action_models import DegradationVersionRow, RoutingVersionRow
from controlplane.storage.alerting_models import NotificationLogRow, SilenceRow
from controlplane.storage.alerts import AlertEvent, AlertRepository, StoredAlert
from controlplane.storage.escalation_models import (
    EscalationAlertRow,
    EscalationRow,
    EscalationStepRow,
    VoiceCallRow,
)
from controlplane.storage.repositories import (
    ProbeResultRepository,
    ReceiptArchive,
    SubmitResultArchive,
    SupplierLogRepository,
)
from smsplatform.database.engine import Database, MigrationHistory

# The version table keeps Alembic's default name: databases migrated before the send tier had
# its own history recorded the control plane's revisions there.
CONTROL_PLANE_HISTORY = MigrationHistory(
    name="controlplane",
    directory=Path(__file__).resolve().parent / "migrations",
    version_table="alembic_version",
)

__all__ = [
    "CONTROL_PLANE_HISTORY",
    "AlertEvent",
    "AlertRepository",
    "Database",
    "DegradationVersionRow",
    "EscalationAlertRow",
    "EscalationRow",
    "EscalationStepRow",
    "NotificationLogRow",
    "ProbeResultRepository",
    "ReceiptArchive",
    "RoutingVersionRow",
    "SilenceRow",
    "StoredAlert",
    "SubmitResultArchive",
    "SupplierLogRepository",
    "VoiceCallRow",
]
