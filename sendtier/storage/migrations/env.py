"""Alembic environment of the send tier's tables (version table `sendtier_alembic_version`)."""

from __future__ import annotations

from sendtier.storage.models import Base
from smsplatform.database.migrations_env import run_migrations

run_migrations(Base.metadata)
