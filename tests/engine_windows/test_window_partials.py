"""Partial buckets from several ingesting replicas merge into the same windows as one ingester."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from window_events import T0, clock_at_t0, receipt

from controlplane.engine import (
    Bucket,
    PartialBuckets,
    WindowSpec,
    WindowStore,
    decode_partials,
    encode_partials,
)
from smsplatform.clock import ManualClock
from smsplatform.contracts import Receipt

SPECS = [
    WindowSpec("receipts", ("supplier", "carrier"), window_s=60),
    WindowSpec("receipts", ("supplier", "carrier"), window_s=10),
    WindowSpec("receipts", ("carrier",), window_s=30, filter='message_class == "otp"'),
    WindowSpec("receipts", (), window_s=60),
]


def traffic(seconds: int, seed: int) -> list[list[Receipt]]:
    """Receipts for each second: several suppliers, statuses, codes and latencies."""
    rng = random.Random(seed)
    return [
        [
            receipt(
                supplier=rng.choice(["aliyun", "tencent", "twilio"]),
                carrier=rng.choice(["cmcc", "cucc"]),
                status=rng.choice(["DELIVERED", "DELIVERED", "FAILED", "EXPIRED"]),
                latency_s=rng.lognormvariate(0.5, 1.0),
                error_code=rng.choice([None, "E1", "E2"]),
                message_class=rng.choice(["otp", "marketing"]),
            )
            for _ in range(rng.randint(0, 40))
        ]
        for _ in range(seconds)
    ]


def store(clock: ManualClock, *, export: bool = False, replica: str = "") -> WindowStore:
    windows = WindowStore(clock, export_partials=export, replica=replica)
    for spec in SPECS:
        windows.register(spec)
    return windows


def readable(windows: WindowStore) -> dict[WindowSpec, dict[object, dict[str, object]]]:
    return {
        spec: {labels: dict(values) for labels, values in windows.aggregates(spec).items()}
        for spec in SPECS
    }


def test_merging_two_replicas_partials_equals_ingesting_everything_in_one_place() -> None:
    single_clock, replica_clocks, leader_clock = (
        clock_at_t0(),
        [clock_at_t0(), clock_at_t0()],
        clock_at_t0(),
    )
    single = store(single_clock)
    replicas = [store(c, export=True, replica=f"r{i}") for i, c in enumerate(replica_clocks)]
    leader = store(leader_clock)
    for second, receipts in enumerate(traffic(90, seed=11)):
        single.add_batch("receipts", receipts)
        for index, replica in enumerate(replicas):  # each replica ingests its share
            replica.add_batch("receipts", receipts[index::2])
        for clock in (single_clock, leader_clock, *replica_clocks):
            clock.advance(1)
        for replica in replicas:
            wire = encode_partials(replica.take_partials())
            leader.merge_partials(decode_partials(wire))
        if second % 15 == 14:
            assert readable(leader) == readable(single), f"second {second}"
    assert readable(leader) == readable(single)


def test_partials_are_per_stream_and_second_and_name_their_replica() -> None:
    clock = clock_at_t0()
    replica = store(clock, export=True, replica="ingest-1")
    replica.add_batch("receipts", [receipt(supplier="aliyun"), receipt(supplier="tencent")])
    clock.advance(1)
    partials = replica.take_partials()
    by_stream = {(partial.by, partial.filter): partial for partial in partials}
    assert len(partials) == 3  # the two windows grouped by supplier and carrier share a stream
    grouped = by_stream[(("supplier", "carrier"), None)]
    assert grouped.second == int(T0.timestamp())
    assert grouped.replica == "ingest-1"
    assert sorted(grouped.labels) == [("aliyun", "cmcc"), ("tencent", "cmcc")]
    assert [bucket.total for bucket in grouped.buckets] == [1, 1]
    assert replica.take_partials() == []  # each bucket is taken once


def test_a_store_not_exporting_partials_keeps_none() -> None:
    clock = clock_at_t0()
    windows = store(clock)
    windows.add_batch("receipts", [receipt()])
    clock.advance(1)
    assert windows.take_partials() == []


def test_partials_of_another_sketch_accuracy_or_stream_are_refused_and_counted() -> None:
    clock = clock_at_t0()
    leader = store(clock)
    coarse = PartialBuckets(
        "receipts", None, ("supplier", "carrier"), int(T0.timestamp()), [], [], 0.05
    )
    unknown = PartialBuckets(
        "receipts", None, ("message_class",), int(T0.timestamp()), [], [], 0.01
    )
    assert leader.merge_partials([coarse, unknown]) == 0
    assert leader.unmatched_partials == 2


def test_a_partial_whose_labels_do_not_match_its_stream_is_refused_whole() -> None:
    clock = clock_at_t0()
    leader = store(clock)
    second = int(T0.timestamp())
    mismatched = PartialBuckets(
        "receipts",
        None,
        ("supplier", "carrier"),
        second,
        [("aliyun", "cmcc"), ("tencent",)],
        [Bucket(total=1, outcomes={"DELIVERED": 1}), Bucket(total=1, outcomes={"FAILED": 1})],
        0.01,
    )
    assert leader.merge_partials([mismatched]) == 0
    assert leader.unmatched_partials == 1
    assert leader.aggregates(SPECS[0]) == {}


def test_partials_older_than_the_ring_are_counted_late_and_skipped() -> None:
    clock = clock_at_t0()
    leader = store(clock)
    clock.advance(120)
    late = PartialBuckets(
        "receipts",
        None,
        ("supplier", "carrier"),
        int((T0 + timedelta(seconds=10)).timestamp()),
        [("aliyun", "cmcc")],
        [Bucket(total=5, outcomes={"DELIVERED": 5}, last_at=T0.timestamp() + 10)],
        0.01,
    )
    assert leader.merge_partials([late]) == 0
    assert [stats.late_partials for stats in leader.stats()] == [1, 0, 0]
    assert leader.aggregates(SPECS[0]) == {}


def test_a_partial_from_a_replica_clock_ahead_counts_as_now() -> None:
    clock = clock_at_t0()
    leader = store(clock)
    ahead = PartialBuckets(
        "receipts",
        None,
        ("supplier", "carrier"),
        int(T0.timestamp()) + 5,
        [("aliyun", "cmcc")],
        [Bucket(total=2, outcomes={"DELIVERED": 2}, last_at=T0.timestamp() + 5)],
        0.01,
    )
    assert leader.merge_partials([ahead]) == 1
    assert leader.aggregates(SPECS[1])[("aliyun", "cmcc")]["total"] == 2
    clock.advance(10)
    assert leader.aggregates(SPECS[1])[("aliyun", "cmcc")]["total"] == 0


def test_merging_a_bucket_adds_every_count_and_keeps_the_latest_event_time() -> None:
    bucket = Bucket(
        total=3,
        outcomes={"DELIVERED": 2, "FAILED": 1},
        codes={"E1": 1},
        bins={10: 2, 12: 1},
        last_at=100.0,
    )
    bucket.merge(
        Bucket(total=2, outcomes={"FAILED": 2}, codes={"E1": 1, "E2": 1}, bins={12: 2}, last_at=90)
    )
    assert bucket == Bucket(
        total=5,
        outcomes={"DELIVERED": 2, "FAILED": 3},
        codes={"E1": 2, "E2": 1},
        bins={10: 2, 12: 3},
        last_at=100.0,
    )


def test_malformed_partials_are_rejected_by_the_decoder() -> None:
    with pytest.raises(Exception, match="Expected `array`"):
        decode_partials(b"\x81\xa1a\x01")
