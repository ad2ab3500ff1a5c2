"""The distributed setup: ingest over JetStream into MariaDB, exactly once."""

from __future__ import annotations

import asyncio

from ingest_helpers import INGEST_TOKEN, NDJSON, auth, ndjson, receipt, running, settings_for

from controlplane.storage import Database, ReceiptArchive
from smsplatform.bus import JetStreamBus


def test_receipts_flow_through_jetstream_into_mariadb_once(
    mariadb_url: str, nats_url: str, unique_name: str
) -> None:
    settings = settings_for(
        mariadb_url, backend="jetstream", url=nats_url, stream=unique_name, namespace=unique_name
    )
    body = ndjson([receipt(n) for n in range(1000)])
    try:
        with running(settings) as (client, _):
            for _ in range(2):
                answer = client.post(
                    "/v1/events/receipts", content=body, headers={**NDJSON, **auth(INGEST_TOKEN)}
                )
                assert answer.status_code == 202
            assert client.get("/healthz").json()["checks"] == {
                "database": True,
                "bus": True,
                "consumers": True,
            }
    finally:
        asyncio.run(_delete_stream(nats_url, unique_name))
    assert ReceiptArchive(Database(mariadb_url)).count() == 1000


async def _delete_stream(url: str, name: str) -> None:
    bus = JetStreamBus(url, stream=name, namespace=name)
    await bus.start()
    await bus.delete_stream()
    await bus.close()
