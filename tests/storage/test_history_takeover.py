"""A database built by the one migration history of old is taken over by the two that replaced
it: the send tier's tables with their rows, the control plane's archive with what it ingested."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, text

from controlplane.storage import CONTROL_PLANE_HISTORY, ReceiptArchive, SubmitResultArchive
from controlplane.storage.models import Base as ControlPlaneBase
from sendtier.storage import (
    SENDTIER_HISTORY,
    Database,
    ReceiptRepository,
    SubmitResultRepository,
)
from sendtier.storage.models import Base as SendTierBase
from smsplatform.database.engine import MigrationHistory

# The migrations as they stood when one history created every table (alembic_version).
OLD_HISTORY = MigrationHistory(
    name="combined",
    directory=Path(__file__).resolve().parent / "legacy_combined_migrations",
    version_table="alembic_version",
)
T0 = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
RECEIPT = (
    "INSERT INTO receipts (message_id, supplier, carrier, message_class, status, raw_status, "
    "submitted_at, reported_at) VALUES "
    "('m-1', 'aliyun', 'cmcc', 'otp', 'DELIVERED', 'DELIVRD', :at, :at)"
)
SUBMIT = (
    "INSERT INTO submit_results (message_id, supplier, carrier, message_class, accepted, "
    "latency_ms, at) VALUES ('m-1', 'aliyun', 'cmcc', 'otp', 1, 12.5, :at)"
)


def _matches(database: Database, metadata: MetaData) -> list[object]:
    """How the database differs from one owner's models, in that owner's tables."""

    def owned(name: str | None, kind: str, _parent: object) -> bool:
        return kind != "table" or name in metadata.tables

    with database.engine.connect() as connection:
        opts = {"compare_type": True, "include_name": owned}
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, metadata))


@pytest.mark.parametrize("old_revision", ["0001", "0002", "0007", "0010"])
def test_an_old_database_keeps_its_rows_and_ends_at_both_heads(
    database_url: str, old_revision: str
) -> None:
    database = Database(database_url)
    database.upgrade(OLD_HISTORY, old_revision)
    naive = T0.replace(tzinfo=None)
    with database.engine.begin() as connection:
        connection.execute(text(RECEIPT), {"at": naive})
        connection.execute(text(SUBMIT), {"at": naive})

    database.upgrade(CONTROL_PLANE_HISTORY)
    database.upgrade(SENDTIER_HISTORY)

    assert _matches(database, ControlPlaneBase.metadata) == []
    assert _matches(database, SendTierBase.metadata) == []
    [receipt] = ReceiptRepository(database).for_message("m-1")
    assert (receipt.status, receipt.reported_at) == ("DELIVERED", T0)
    [submit] = SubmitResultRepository(database).for_message("m-1")
    assert (submit.accepted, submit.at) == (True, T0)
    # What the control plane had stored in the shared tables is in its own archive too.
    assert ReceiptArchive(database).count() == 1
    assert [s.message_id for s in SubmitResultArchive(database).for_message("m-1")] == ["m-1"]
    database.dispose()


def test_a_new_database_gets_each_owners_tables_in_either_order(database_url: str) -> None:
    database = Database(database_url)
    database.upgrade(SENDTIER_HISTORY)
    database.upgrade(CONTROL_PLANE_HISTORY)
    assert _matches(database, ControlPlaneBase.metadata) == []
    assert _matches(database, SendTierBase.metadata) == []
    assert ReceiptArchive(database).count() == ReceiptRepository(database).count() == 0
    database.dispose()
