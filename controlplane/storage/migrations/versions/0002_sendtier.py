"""Send tier: supplier ids, attempts and error classes on submit results; orphan receipts.

The send tier's own history (sendtier/storage/migrations, st0001) holds these tables now;
this revision stays so that databases recorded at it and after it keep their place.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02

Written by hand to match models.py; types are spelled out here, as in 0001, so this revision keeps
creating the same schema when the models change later.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing: the send tier's history (st0001) creates these tables now."""


def downgrade() -> None:
    """Nothing: see upgrade."""
