"""The send tier's storage: its tables, repositories and migrations (its own version table)."""

from pathlib import Path

# Every model module is imported here so Base.metadata always holds every table.
from sendtier.storage import api_models as api_models
from sendtier.storage import dispatch_models as dispatch_models
from sendtier.storage.api_repositories import (
    IdempotencyKeyRepository,
    IdempotencyRecord,
    OptOutRepository,
)
from sendtier.storage.dispatch_repositories import SubmittedMarkerRepository
from sendtier.storage.messages import MessageRepository, StoredMessage
from sendtier.storage.receipts import (
    OrphanReceipt,
    OrphanReceiptRepository,
    ReceiptRepository,
    SubmitResultRepository,
)
from sendtier.storage.taken_reports import HeldReport, TakenReport, TakenReportRepository
from smsplatform.database.engine import Database, MigrationHistory

SENDTIER_HISTORY = MigrationHistory(
    name="sendtier",
    directory=Path(__file__).resolve().parent / "migrations",
    version_table="sendtier_alembic_version",
)

__all__ = [
    "SENDTIER_HISTORY",
    "Database",
    "HeldReport",
    "IdempotencyKeyRepository",
    "IdempotencyRecord",
    "MessageRepository",
    "OptOutRepository",
    "OrphanReceipt",
    "OrphanReceiptRepository",
    "ReceiptRepository",
    "StoredMessage",
    "SubmitResultRepository",
    "SubmittedMarkerRepository",
    "TakenReport",
    "TakenReportRepository",
]
