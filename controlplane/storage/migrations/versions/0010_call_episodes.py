"""The escalation episode a voice call was placed for, so its key press acks that episode only.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27

Written by hand to match escalation_models.py, with the types spelled out
(see 0001; the shared ones are in migration_types.py). Calls remembered before this revision
have no episode: a key press on one of them acks nothing (the console still does).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from smsplatform.database.migration_types import big_id_type

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "voice_calls", sa.Column("escalation_id", big_id_type(), autoincrement=False, nullable=True)
    )


def downgrade() -> None:
    op.drop_column("voice_calls", "escalation_id")
