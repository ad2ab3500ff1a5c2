"""Send API state: marketing opt-outs and idempotency-key claims.

The send tier's own history (sendtier/storage/migrations, st0001) holds these tables now;
this revision stays so that databases recorded at it and after it keep their place.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-02

Written by hand to match api_models.py, with the types spelled out (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing: the send tier's history (st0001) creates these tables now."""


def downgrade() -> None:
    """Nothing: see upgrade."""
