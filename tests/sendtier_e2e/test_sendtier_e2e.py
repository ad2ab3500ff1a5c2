"""The send tier end to end on JetStream and MariaDB, with the four supplier simulators.

API → sms.submit → dispatch → simulator → receipt push → gateway → sms.receipts → persist, while
one supplier fails half of its submits. The four services run in this process, each on its own
port; the simulators run in a process of their own (`sendtier simulators`), as suppliers are
elsewhere, which also gives the test the machine's second core.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
from e2e_helpers import (
    FAULTY_SUPPLIER,
    assert_each_sent_once_with_its_receipt,
    count_settled,
    plan_arguments,
    platform_on,
    read_stored,
    send_batches,
    sendtier_processes,
    simulator_urls,
    wait_until,
    write_settings,
)

from sendtier.stack import running_services
from sendtier.storage import Database
from smsplatform.bus import JetStreamBus

MESSAGES = 10_000


async def test_every_message_is_persisted_once_with_its_receipt_while_a_supplier_fails_half(
    mariadb_url: str, nats_url: str, unique_name: str, tmp_path: Path
) -> None:
    platform = platform_on(mariadb_url, nats_url, unique_name)
    config = write_settings(platform, tmp_path)
    simulators = simulator_urls(platform)
    bus = JetStreamBus(nats_url, stream=unique_name, namespace=unique_name)
    await bus.start()
    try:
        with sendtier_processes(config, {"simulators": plan_arguments(tmp_path)}, simulators):
            async with running_services(platform.settings, bus=bus) as services:
                accepted = await send_batches(
                    services.urls["api"], platform.tenant_tokens["demo"], MESSAGES, 500
                )
                assert len(accepted) == MESSAGES
                await wait_until(
                    lambda: count_settled(services.database) >= MESSAGES,
                    timeout_s=120,
                    what="every message stored with its receipt",
                )
            # The services have stopped (drained) here: nothing more can arrive.
            faulty_url = simulators[f"simulator {FAULTY_SUPPLIER}"]
            faulty_state = httpx.get(f"{faulty_url}/_sim/state").json()
        database = Database(mariadb_url)
        stored = read_stored(database)
        database.dispose()
    finally:
        await bus.delete_stream()
        await bus.close()

    assert_each_sent_once_with_its_receipt(stored, accepted)
    # Half of the faulty supplier's submits failed, as its plan says, and each of those messages
    # was then taken by another supplier under the same message id, on the next attempt.
    faulty = [f for f in stored.failed_submits if f[1] == FAULTY_SUPPLIER]
    taken_by_faulty = sum(1 for s in stored.accepted_submits.values() if s[0][0] == FAULTY_SUPPLIER)
    # The plan fails half of the supplier's calls; a call carries one message or a batch of
    # them, so the share is counted over calls, within four standard deviations of a half.
    counters = faulty_state["counters"]
    calls, refused_calls = counters["requests"], counters["refused"]
    assert abs(refused_calls / calls - 0.5) < 4 * (0.25 / calls) ** 0.5, (refused_calls, calls)
    assert {(code, error_class) for _, _, _, code, error_class in faulty} == {
        ("isp.SYSTEM_ERROR", "retriable")
    }
    for message_id, _, attempt, _, _ in faulty:
        [(supplier, taken_at)] = stored.accepted_submits[message_id]
        assert supplier != FAULTY_SUPPLIER
        assert taken_at == attempt + 1
    assert [f for f in stored.failed_submits if f[1] != FAULTY_SUPPLIER] == []
    # Every supplier carried traffic.
    assert set(Counter(s[0][0] for s in stored.accepted_submits.values())) == set(
        platform.simulators
    )
    # The faulty one refused only with its injected code, and accepted exactly what is stored.
    assert set(faulty_state["refused_by_code"]) == {"isp.SYSTEM_ERROR"}
    assert refused_calls <= len(faulty)
    assert counters["accepted"] == taken_by_faulty
