"""The migrations as they stood before the send tier had its own history (a frozen copy).

Tests build a database with them, as an operator's database was built, and check that the two
histories that replaced them take it over with its rows intact.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from smsplatform.database.migrations_env import run_migrations

run_migrations(MetaData())
