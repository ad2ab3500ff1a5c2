"""The receipt gateway's memory of the reports it took (replays are not published again), and
the reports it holds until their submit is known.

The send tier's own history (sendtier/storage/migrations, st0001) holds these tables now;
this revision stays so that databases recorded at it and after it keep their place.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Written by hand to match models.py, with the types spelled out
(see 0001; the shared ones are in migration_types.py).
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing: the send tier's history (st0001) creates these tables now."""


def downgrade() -> None:
    """Nothing: see upgrade."""
