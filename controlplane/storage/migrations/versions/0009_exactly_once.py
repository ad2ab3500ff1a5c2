"""Sending exactly once: the dispatcher's submitted markers, and the part of an idempotent send
still to publish after the bus took only some of it.

The send tier's own history (sendtier/storage/migrations, st0001) holds these tables now;
this revision stays so that databases recorded at it and after it keep their place.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26

Written by hand to match dispatch_models.py and api_models.py, with the types spelled out
(see 0001; the shared ones are in migration_types.py).
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing: the send tier's history (st0001) creates these tables now."""


def downgrade() -> None:
    """Nothing: see upgrade."""
