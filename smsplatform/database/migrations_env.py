"""What every owner's Alembic env.py runs: its migrations on the connection Database.upgrade gives.

The version table comes from the MigrationHistory (Database.alembic_config sets it), so each
owner's revisions are recorded apart from the others' in one database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, MetaData, create_engine


def run_migrations(target_metadata: MetaData) -> None:
    """Migrate with the connection handed in, or one opened from sqlalchemy.url (tools)."""
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported; run Database.upgrade()")
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection, target_metadata)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    try:
        with engine.connect() as own_connection:
            _run(own_connection, target_metadata)
    finally:
        engine.dispose()


def _run(connection: Connection, target_metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=context.config.get_main_option("version_table") or "alembic_version",
        # SQLite cannot ALTER most things; batch mode rebuilds tables in later migrations.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
