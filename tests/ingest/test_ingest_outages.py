"""Ingest with the bus down, and bodies capped as they stream on every control plane route."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from ingest_helpers import (
    INGEST_TOKEN,
    NDJSON,
    OPERATOR_TOKEN,
    auth,
    ndjson,
    receipt,
    settings_for,
)
from test_consumer_outages import running_on

from controlplane.service import ControlPlane
from controlplane.storage import Database, ReceiptArchive
from controlplane.web.app import create_app
from tests.bus.faulty_bus import FaultyBus

CAP = 256 * 1024  # ingest.max_body_bytes in these tests


def test_ingest_with_the_bus_down_answers_503_with_retry_after_and_json(sqlite_url: str) -> None:
    bus = FaultyBus()
    body = ndjson([receipt(n) for n in range(10)])
    with running_on(bus, sqlite_url) as (client, _):
        bus.publish_down = True
        refused = client.post(
            "/v1/events/receipts", content=body, headers={**NDJSON, **auth(INGEST_TOKEN)}
        )
        metrics = client.get("/metrics").text
        bus.heal()
        retried = client.post(
            "/v1/events/receipts", content=body, headers={**NDJSON, **auth(INGEST_TOKEN)}
        )

    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/json"
    assert int(refused.headers["retry-after"]) > 0
    assert "retry" in refused.json()["error"]
    assert 'smsctl_events_rejected_total{kind="receipts",reason="unavailable"} 10.0' in metrics
    assert retried.status_code == 202
    assert ReceiptArchive(Database(sqlite_url)).count() == 10


async def test_a_chunked_body_over_the_cap_is_refused_on_a_route_that_reads_it_whole(
    sqlite_url: str,
) -> None:
    pulled = 0

    async def upload(chunks: int) -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(chunks):
            pulled += 1
            yield b" " * 65536

    service = ControlPlane(settings_for(sqlite_url), environ={})
    await service.start()
    try:
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(transport=transport, base_url="http://cp") as client:
            # The operator's manual degradation level: a JSON body FastAPI reads for the handler.
            answer = await client.put(
                "/v1/degradation/manual",
                content=upload(1024),  # 64 MiB
                headers={**auth(OPERATOR_TOKEN), "Content-Type": "application/json"},
            )
    finally:
        await service.stop()

    assert answer.status_code == 413
    assert answer.json() == {"error": "body too large", "field": "body", "limit_bytes": CAP}
    assert pulled <= CAP // 65536 + 1
