"""Alembic environment of the control plane's tables (version table `alembic_version`)."""

from __future__ import annotations

from controlplane.storage.models import Base
from smsplatform.database.migrations_env import run_migrations

run_migrations(Base.metadata)
