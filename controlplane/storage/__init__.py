"""Storage: SQLAlchemy models, Alembic migrations and a repository per aggregate."""

from controlplane.storage.database import Database
from controlplane.storage.messages import MessageRepository, StoredMessage
from controlplane.storage.repositories import (
    ProbeResultRepository,
    ReceiptRepository,
    SubmitResultRepository,
    SupplierLogRepository,
)

__all__ = [
    "Database",
    "MessageRepository",
    "ProbeResultRepository",
    "ReceiptRepository",
    "StoredMessage",
    "SubmitResultRepository",
    "SupplierLogRepository",
]
