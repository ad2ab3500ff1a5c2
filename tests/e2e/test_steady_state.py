"""The whole system under steady traffic with healthy suppliers: the baseline every fault
scenario departs from. Run in process on the memory bus + SQLite and on JetStream + MariaDB."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from outcome_checks import (
    assert_no_message_lost_or_sent_twice,
    firing_alerts,
    notified_alerts,
    read_outcome,
    taken_by_supplier,
    wait_until_all_submitted,
)
from steady_traffic import steady_traffic
from system_world import (
    SUPPLIERS,
    Backend,
    running_system,
)

RATE = 60.0  # messages/s over all suppliers
STEADY_S = 4.0


async def test_healthy_suppliers_share_steady_traffic_with_every_message_sent_once_and_no_alert(
    backend: Backend, tmp_path: Path
) -> None:
    async with running_system(backend, tmp_path) as system:
        async with steady_traffic(system.api_url, system.tenant_token, RATE) as traffic:
            await asyncio.sleep(STEADY_S)
        accepted = traffic.accepted.messages
        await wait_until_all_submitted(system, accepted)
        alerts = await firing_alerts(system, "SupplierDeliveryRateLow")
        async with httpx.AsyncClient(base_url=system.services.urls["receipts"]) as gateway:
            exported = (await gateway.get("/metrics")).text
        outcome = await asyncio.to_thread(read_outcome, system.services.database)

    assert traffic.accepted.refused == []
    assert len(accepted) >= RATE * STEADY_S * 0.8
    assert_no_message_lost_or_sent_twice(outcome, accepted)
    assert set(taken_by_supplier(outcome, accepted)) == set(SUPPLIERS)
    assert alerts == []
    # What a Prometheus delivery-rate rule reads: receipts by supplier, carrier and status.
    for supplier in SUPPLIERS:
        line = f'sendtier_receipts_total{{carrier="cmcc",status="DELIVERED",supplier="{supplier}"}}'
        assert line in exported, supplier
    assert notified_alerts(system) == []
