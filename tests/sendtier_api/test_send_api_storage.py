"""The send API's tables on SQLite and MariaDB: opt-outs and idempotency-key claims."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from sendtier.storage import SENDTIER_HISTORY, Database
from sendtier.storage.api_repositories import IdempotencyKeyRepository, OptOutRepository

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.upgrade(SENDTIER_HISTORY)
    yield database
    database.dispose()


def test_an_opt_out_is_stored_once_per_tenant_and_number(database: Database) -> None:
    opt_outs = OptOutRepository(database)
    assert opt_outs.add("shop", "+8613800000001", T0, "回T退订")
    assert not opt_outs.add("shop", "+8613800000001", T0 + DAY)
    assert opt_outs.add("bank", "+8613800000001", T0)
    assert opt_outs.add("shop", "+8613800000002", T0, "x" * 400)  # long reasons are cut
    assert opt_outs.contains("shop", "+8613800000001")
    assert not opt_outs.contains("shop", "+8613800000003")
    assert opt_outs.all_by_tenant() == {
        "shop": {"+8613800000001", "+8613800000002"},
        "bank": {"+8613800000001"},
    }
    assert opt_outs.remove("shop", "+8613800000001")
    assert not opt_outs.remove("shop", "+8613800000001")
    assert opt_outs.all_by_tenant()["shop"] == {"+8613800000002"}


def test_the_first_claim_of_a_key_wins_and_later_ones_read_its_answer(database: Database) -> None:
    keys = IdempotencyKeyRepository(database)
    assert keys.claim("shop", "k1", "f" * 64, T0, T0 - DAY) is None
    in_flight = keys.claim("shop", "k1", "f" * 64, T0, T0 - DAY)
    assert in_flight is not None and not in_flight.completed
    assert keys.claim("bank", "k1", "f" * 64, T0, T0 - DAY) is None  # another tenant's key

    answer = '{"messages":[' + ",".join(['{"message_id":"' + "M" * 26 + '"}'] * 1500) + "]}"
    assert len(answer) > 65_535  # more than MySQL's TEXT holds
    keys.complete("shop", "k1", 202, answer)
    done = keys.claim("shop", "k1", "f" * 64, T0 + timedelta(hours=1), T0 - DAY)
    assert done is not None
    assert (done.status_code, done.response, done.created_at) == (202, answer, T0)


def test_a_released_claim_can_be_claimed_again_but_a_completed_one_stays(
    database: Database,
) -> None:
    keys = IdempotencyKeyRepository(database)
    keys.claim("shop", "k2", "a" * 64, T0, T0 - DAY)
    keys.release("shop", "k2")
    assert keys.get("shop", "k2") is None
    assert keys.claim("shop", "k2", "b" * 64, T0, T0 - DAY) is None
    keys.complete("shop", "k2", 202, "{}")
    keys.release("shop", "k2")
    record = keys.get("shop", "k2")
    assert record is not None and record.fingerprint == "b" * 64


def test_an_expired_claim_is_replaced_and_old_ones_are_purged(database: Database) -> None:
    keys = IdempotencyKeyRepository(database)
    keys.claim("shop", "old", "a" * 64, T0, T0 - DAY)
    keys.complete("shop", "old", 202, "{}")
    keys.claim("shop", "older", "a" * 64, T0 - timedelta(hours=2), T0 - DAY)
    later = T0 + DAY + timedelta(minutes=1)
    assert keys.claim("shop", "old", "c" * 64, later, later - DAY) is None
    record = keys.get("shop", "old")
    assert record is not None and record.created_at == later and not record.completed
    assert keys.purge(later - DAY) == 1  # "older"
    assert keys.get("shop", "older") is None
