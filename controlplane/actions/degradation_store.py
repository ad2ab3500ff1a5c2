"""Degradation policy versions in storage: each one with who or what set it and the readings seen.

The version number is the primary key: of two writers of version N one wins, and the loser
learns it from `add` returning False (it reloads the newest version and decides again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson
from sqlalchemy import RowMapping, Table, insert, select
from sqlalchemy.exc import IntegrityError

from controlplane.storage import Database, DegradationVersionRow
from smsplatform.contracts import DegradationLevel, DegradationPolicy

VERSIONS: Table = DegradationVersionRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class DegradationVersion:
    """One stored version: the policy as published, who set it, and the evidence."""

    policy: DegradationPolicy
    changed_by: str
    evidence: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        policy = self.policy
        return {
            "version": policy.version,
            "at": policy.at.isoformat(),
            "level": policy.level,
            "sample_ratio": policy.sample_ratio,
            "until": policy.until.isoformat() if policy.until else None,
            "reason": policy.reason,
            "changed_by": self.changed_by,
            "evidence": dict(self.evidence),
        }


class DegradationVersionRepository:
    """Appends policy versions and reads the newest ones back."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def add(self, version: DegradationVersion) -> bool:
        """Store `version`; False when another writer stored that version number first."""
        policy = version.policy
        row = {
            "version": policy.version,
            "at": policy.at,
            "level": policy.level,
            "sample_ratio": policy.sample_ratio,
            "until": policy.until,
            "changed_by": version.changed_by,
            "reason": policy.reason,
            "evidence": orjson.dumps(dict(version.evidence)).decode(),
        }
        try:
            with self._database.engine.begin() as connection:
                connection.execute(insert(VERSIONS), [row])
        except IntegrityError:
            return False
        return True

    def newest(self) -> DegradationVersion | None:
        found = self.history(limit=1)
        return found[0] if found else None

    def history(self, limit: int = 50) -> list[DegradationVersion]:
        """The newest `limit` versions, newest first."""
        query = select(VERSIONS).order_by(VERSIONS.c.version.desc()).limit(limit)
        with self._database.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [_version(row) for row in rows]


def _version(row: RowMapping) -> DegradationVersion:
    policy = DegradationPolicy(
        version=row["version"],
        at=row["at"],
        level=cast(DegradationLevel, row["level"]),
        sample_ratio=row["sample_ratio"],
        until=row["until"],
        reason=row["reason"],
    )
    return DegradationVersion(policy, row["changed_by"], orjson.loads(row["evidence"]))
