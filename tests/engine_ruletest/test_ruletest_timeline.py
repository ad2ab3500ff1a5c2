"""Event timelines of stream tests: spans, ticks, per-source defaults and weighted fields dealt
in exact proportion, merged in time order."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from textwrap import dedent

from controlplane.engine.ruletest import EventGenerator, load_test_file, timeline
from controlplane.engine.ruletest.timeline import EPOCH
from smsplatform.contracts import Receipt, SubmitResult


def generators(tmp_path: Path, events: str) -> list[EventGenerator]:
    (tmp_path / "rules.yaml").write_text("groups: []\n")
    path = tmp_path / "t.yaml"
    body = "\n".join(f"      {line}" for line in dedent(events).splitlines())
    path.write_text(f"rule_files: [rules.yaml]\ntests:\n  - input_events:\n{body}\n")
    return list(load_test_file(path).stream_tests[0].events)


def test_a_span_ticks_from_its_start_up_to_but_not_including_its_end(tmp_path: Path) -> None:
    batches = list(
        timeline(generators(tmp_path, "receipts: [{at: 1s..2s, every: 250ms, count: 2}]"))
    )
    assert [batch.at_ms for batch in batches] == [1000, 1250, 1500, 1750]
    assert all(len(batch.events) == 2 for batch in batches)


def test_receipt_defaults_arrive_at_the_tick_with_latency_before_it(tmp_path: Path) -> None:
    [batch] = timeline(generators(tmp_path, "receipts: [{at: 30s, latency: 90s}]"))
    [receipt] = batch.events
    assert isinstance(receipt, Receipt)
    assert (receipt.supplier, receipt.carrier, receipt.message_class, receipt.status) == (
        "supplier-a",
        "cmcc",
        "otp",
        "DELIVERED",
    )
    assert receipt.reported_at == EPOCH + timedelta(seconds=30)
    assert receipt.reported_at - receipt.submitted_at == timedelta(seconds=90)


def test_weighted_fields_hold_their_share_at_every_point_and_line_up(tmp_path: Path) -> None:
    events = [
        event
        for batch in timeline(
            generators(
                tmp_path,
                """\
                submits:
                  - at: 0s..100s
                    accepted: {true: 0.9, false: 0.1}
                    error_code: {null: 0.9, E1: 0.1}
                """,
            )
        )
        for event in batch.events
    ]
    assert len(events) == 100
    for seen in range(1, 101):
        rejected = sum(not event.accepted for event in events[:seen])
        assert abs(rejected - seen * 0.1) < 1
    assert all(isinstance(event, SubmitResult) for event in events)
    assert all((event.error_code == "E1") == (not event.accepted) for event in events)
    assert len({event.message_id for event in events}) == 100


def test_generators_merge_in_time_order_one_batch_per_time_and_source(tmp_path: Path) -> None:
    batches = list(
        timeline(
            generators(
                tmp_path,
                """\
                receipts:
                  - {at: 0s..3s, supplier: a}
                  - {at: 1s, supplier: b, count: 3}
                submits:
                  - {at: 1500ms}
                """,
            )
        )
    )
    assert [(batch.at_ms, batch.source) for batch in batches] == [
        (0, "receipts"),
        (1000, "receipts"),
        (1500, "submits"),
        (2000, "receipts"),
    ]
    assert Counter(event.supplier for event in batches[1].events) == {"a": 1, "b": 3}
