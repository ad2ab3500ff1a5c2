"""Every routing-table version, stored whole with who or what made it, why, and the evidence.

A version number is the row's primary key: of two writers of version N one wins, and the other
learns it (`add` returns False) and decides again from the newest version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson
from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError

from controlplane.storage import Database, RoutingVersionRow
from smsplatform.contracts import RoutingTable

ROUTING_VERSIONS: Table = RoutingVersionRow.__table__  # type: ignore[assignment]

_table_decoder = msgspec.msgpack.Decoder(RoutingTable)


def encode_table(table: RoutingTable) -> bytes:
    """The `cp.routing` payload of one version: the table as msgpack (what dispatchers decode)."""
    return msgspec.msgpack.encode(table)


@dataclass(frozen=True)
class RoutingVersion:
    """One stored version: the table and what triggered it (rule, alert, values seen)."""

    table: RoutingTable
    evidence: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {**msgspec.to_builtins(self.table), "evidence": dict(self.evidence)}


class RoutingStore:
    """The routing_versions table."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def add(self, table: RoutingTable, evidence: Mapping[str, Any]) -> bool:
        """Store `table` as its version; False when another writer already took that version."""
        row = {
            "version": table.version,
            "at": table.at,
            "changed_by": table.changed_by[:255],
            "reason": table.reason,
            "body": encode_table(table),
            "evidence": orjson.dumps(evidence, default=str).decode(),
        }
        try:
            with self._database.engine.begin() as connection:
                connection.execute(ROUTING_VERSIONS.insert(), [row])
        except IntegrityError:
            return False
        return True

    def latest(self) -> RoutingVersion | None:
        statement = select(ROUTING_VERSIONS).order_by(ROUTING_VERSIONS.c.version.desc()).limit(1)
        versions = self._select(statement)
        return versions[0] if versions else None

    def get(self, version: int) -> RoutingVersion | None:
        versions = self._select(
            select(ROUTING_VERSIONS).where(ROUTING_VERSIONS.c.version == version)
        )
        return versions[0] if versions else None

    def history(self, limit: int = 50) -> list[RoutingVersion]:
        """The newest `limit` versions, newest first."""
        statement = (
            select(ROUTING_VERSIONS).order_by(ROUTING_VERSIONS.c.version.desc()).limit(limit)
        )
        return self._select(statement)

    def _select(self, statement: Any) -> list[RoutingVersion]:
        with self._database.engine.connect() as connection:
            return [
                RoutingVersion(_table_decoder.decode(row.body), orjson.loads(row.evidence))
                for row in connection.execute(statement)
            ]
