"""Storage: SQLAlchemy models, Alembic migrations and a repository per aggregate."""

from controlplane.storage.alerts import AlertEvent, AlertRepository, StoredAlert
from controlplane.storage.database import Database
from controlplane.storage.messages import MessageRepository, StoredMessage
from controlplane.storage.repositories import (
    OrphanReceipt,
    OrphanReceiptRepository,
    ProbeResultRepository,
    ReceiptRepository,
    SubmitResultRepository,
    SupplierLogRepository,
)

__all__ = [
    "AlertEvent",
    "AlertRepository",
    "Database",
    "MessageRepository",
    "OrphanReceipt",
    "OrphanReceiptRepository",
    "ProbeResultRepository",
    "ReceiptRepository",
    "StoredAlert",
    "StoredMessage",
    "SubmitResultRepository",
    "SupplierLogRepository",
]
