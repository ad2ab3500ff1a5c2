"""Sliding windows count what a rule author expects: per label set, per second, and no longer."""

from __future__ import annotations

from typing import Any

import pytest
from window_events import clock_at_t0, probe, receipt, submit, supplier_log

from controlplane.engine import OTHER, WindowSpec, WindowStore
from smsplatform.clock import ManualClock

BY_SUPPLIER_CARRIER = WindowSpec("receipts", ("supplier", "carrier"), window_s=60)


def store_with(*specs: WindowSpec, **options: Any) -> tuple[WindowStore, ManualClock]:
    clock = clock_at_t0()
    store = WindowStore(clock, **options)
    for spec in specs:
        store.register(spec)
    return store, clock


def test_an_event_counts_until_its_second_is_a_whole_window_old() -> None:
    store, clock = store_with(BY_SUPPLIER_CARRIER)
    store.add_batch("receipts", [receipt()])
    clock.advance(59.999)
    assert store.aggregates(BY_SUPPLIER_CARRIER)[("aliyun", "cmcc")]["total"] == 1
    clock.advance(0.001)  # exactly 60 s after the event
    assert store.aggregates(BY_SUPPLIER_CARRIER)[("aliyun", "cmcc")]["total"] == 0


def test_an_event_late_in_its_second_leaves_with_its_second() -> None:
    store, clock = store_with(BY_SUPPLIER_CARRIER)
    clock.advance(0.9)
    store.add_batch("receipts", [receipt()])
    clock.advance(59.0)  # 59.9 s after T0: the event's second is 59 s old
    assert store.aggregates(BY_SUPPLIER_CARRIER)[("aliyun", "cmcc")]["total"] == 1
    clock.advance(0.1)  # T0 + 60: its second is now 60 s old
    assert store.aggregates(BY_SUPPLIER_CARRIER)[("aliyun", "cmcc")]["total"] == 0


def test_counts_and_rates_are_per_label_set() -> None:
    store, clock = store_with(BY_SUPPLIER_CARRIER)
    aliyun = [receipt() for _ in range(7)] + [
        receipt(status="FAILED", error_code="E100"),
        receipt(status="EXPIRED", error_code="E100"),
        receipt(status="UNKNOWN"),
    ]
    store.add_batch("receipts", [*aliyun, receipt(supplier="tencent", status="REJECTED")])
    clock.advance(10)
    windows = store.aggregates(BY_SUPPLIER_CARRIER)
    aliyun_cmcc = windows[("aliyun", "cmcc")]
    assert (aliyun_cmcc["total"], aliyun_cmcc["delivered"], aliyun_cmcc["failed"]) == (10, 7, 1)
    assert (aliyun_cmcc["expired"], aliyun_cmcc["unknown"], aliyun_cmcc["rejected"]) == (1, 1, 0)
    assert aliyun_cmcc["delivery_rate"] == pytest.approx(0.7)
    assert aliyun_cmcc["failure_rate"] == pytest.approx(0.2)  # UNKNOWN is not a failure
    assert aliyun_cmcc["error_share"] == {"E100": pytest.approx(0.2)}
    assert aliyun_cmcc["rate_per_s"] == pytest.approx(10 / 60)
    assert aliyun_cmcc["no_data_for"] == pytest.approx(10)
    assert aliyun_cmcc.label_dict() == {"supplier": "aliyun", "carrier": "cmcc"}
    tencent = windows[("tencent", "cmcc")]
    assert (tencent["total"], tencent["rejected"], tencent["delivery_rate"]) == (1, 1, 0.0)


def test_a_window_without_events_reads_neutral_rates() -> None:
    store, clock = store_with(BY_SUPPLIER_CARRIER)
    store.add_batch("receipts", [receipt(status="FAILED", latency_s=30)])
    clock.advance(120)
    quiet = store.aggregates(BY_SUPPLIER_CARRIER)[("aliyun", "cmcc")]
    assert quiet["total"] == 0
    assert (quiet["delivery_rate"], quiet["failure_rate"]) == (1.0, 0.0)
    assert (quiet["p50"], quiet["p95"], quiet["p99"], quiet["rate_per_s"]) == (0, 0, 0, 0)
    assert quiet["error_share"] == {}
    assert quiet["no_data_for"] == pytest.approx(120)


def test_a_quiet_label_set_stays_until_it_has_been_idle_for_the_ttl() -> None:
    store, clock = store_with(BY_SUPPLIER_CARRIER, idle_ttl_s=600)
    store.add_batch("receipts", [receipt(supplier="gone")])
    clock.advance(599)
    assert store.aggregates(BY_SUPPLIER_CARRIER)[("gone", "cmcc")]["no_data_for"] == 599
    clock.advance(2)
    assert store.aggregates(BY_SUPPLIER_CARRIER) == {}


def test_an_ungrouped_window_reports_traffic_that_never_came() -> None:
    everything = WindowSpec("receipts", (), window_s=60)
    store, clock = store_with(everything)
    clock.advance(45)
    [(labels, nothing)] = store.aggregates(everything).items()
    assert labels == ()
    assert (nothing["total"], nothing["no_data_for"]) == (0, 45)


def test_two_window_lengths_share_one_ring() -> None:
    one_minute = WindowSpec("receipts", ("supplier",), window_s=60)
    five_minutes = WindowSpec("receipts", ("supplier",), window_s=300)
    store, clock = store_with(one_minute, five_minutes)
    store.add_batch("receipts", [receipt(), receipt()])
    clock.advance(100)
    store.add_batch("receipts", [receipt(status="FAILED")])
    clock.advance(1)
    assert store.aggregates(one_minute)[("aliyun",)]["total"] == 1
    assert store.aggregates(five_minutes)[("aliyun",)]["total"] == 3
    [stream] = store.stats()
    assert (stream.by, stream.label_sets) == (("supplier",), 1)
    clock.advance(300)
    assert store.aggregates(five_minutes)[("aliyun",)]["total"] == 0


def test_a_window_registered_later_starts_from_the_buckets_the_ring_holds() -> None:
    one_minute = WindowSpec("receipts", ("supplier",), window_s=60)
    store, clock = store_with(one_minute)
    store.add_batch("receipts", [receipt()])
    clock.advance(30)
    store.add_batch("receipts", [receipt()])
    clock.advance(1)
    twenty_seconds = WindowSpec("receipts", ("supplier",), window_s=20)
    store.register(twenty_seconds)
    assert store.aggregates(twenty_seconds)[("aliyun",)]["total"] == 1
    assert store.aggregates(one_minute)[("aliyun",)]["total"] == 2


def test_a_filter_keeps_only_the_events_it_accepts() -> None:
    all_classes = WindowSpec("receipts", ("supplier",), window_s=60)
    no_marketing = WindowSpec(
        "receipts", ("supplier",), window_s=60, filter='message_class != "marketing"'
    )
    coded = WindowSpec("receipts", ("supplier",), window_s=60, filter='error_code == "E9"')
    store, clock = store_with(all_classes, no_marketing, coded)
    store.add_batch(
        "receipts",
        [
            receipt(message_class="marketing", status="FAILED"),
            receipt(message_class="otp"),
            receipt(message_class="notification", status="FAILED", error_code="E9"),
            receipt(message_class="marketing", status="FAILED", error_code="E9"),
        ],
    )
    clock.advance(1)
    assert store.aggregates(all_classes)[("aliyun",)]["total"] == 4
    assert store.aggregates(no_marketing)[("aliyun",)]["delivered"] == 1
    assert store.aggregates(no_marketing)[("aliyun",)]["total"] == 2
    assert store.aggregates(coded)[("aliyun",)]["total"] == 2
    assert len(store.stats()) == 3


def test_a_filter_on_a_measurement_runs_per_event() -> None:
    slow = WindowSpec("submits", ("supplier",), window_s=60, filter="latency_ms > 500.0")
    store, clock = store_with(slow)
    store.add_batch("submits", [submit(latency_ms=float(ms)) for ms in (100, 499, 501, 2000)])
    clock.advance(1)
    assert store.aggregates(slow)[("aliyun",)]["total"] == 2


def test_a_filter_reading_a_field_the_source_lacks_is_refused_at_registration() -> None:
    store, _ = store_with()
    with pytest.raises(ValueError, match="filter reads tenant, which receipts events lack"):
        store.register(WindowSpec("receipts", (), 60, filter='tenant == "acme"'))


def test_label_sets_beyond_the_cap_fold_into_other_and_are_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, clock = store_with(BY_SUPPLIER_CARRIER, label_cap=2)
    store.add_batch(
        "receipts",
        [
            receipt(supplier="a"),
            receipt(supplier="b"),
            receipt(supplier="c"),
            receipt(supplier="d", status="FAILED"),
            receipt(supplier="a"),
        ],
    )
    clock.advance(1)
    windows = store.aggregates(BY_SUPPLIER_CARRIER)
    assert set(windows) == {("a", "cmcc"), ("b", "cmcc"), (OTHER, OTHER)}
    assert windows[("a", "cmcc")]["total"] == 2
    assert (windows[(OTHER, OTHER)]["total"], windows[(OTHER, OTHER)]["failed"]) == (2, 1)
    [stream] = store.stats()
    assert stream.folded_events == 2
    store.add_batch("receipts", [receipt(supplier="b"), receipt(supplier="e")])
    clock.advance(1)
    assert store.aggregates(BY_SUPPLIER_CARRIER)[("b", "cmcc")]["total"] == 2
    assert store.stats()[0].folded_events == 3
    [warning] = [record.getMessage() for record in caplog.records]
    assert warning == (
        "event=label_cap_reached source=receipts by=supplier,carrier cap=2 folds_into=other"
    )


def test_a_label_set_that_went_idle_frees_its_place_under_the_cap() -> None:
    store, clock = store_with(BY_SUPPLIER_CARRIER, label_cap=1, idle_ttl_s=60)
    store.add_batch("receipts", [receipt(supplier="old")])
    clock.advance(61)
    store.add_batch("receipts", [receipt(supplier="new")])
    clock.advance(1)
    assert set(store.aggregates(BY_SUPPLIER_CARRIER)) == {("new", "cmcc")}


def test_events_after_a_long_silence_start_a_fresh_window() -> None:
    store, clock = store_with(BY_SUPPLIER_CARRIER)
    store.add_batch("receipts", [receipt(), receipt()])
    clock.advance(7200)
    store.add_batch("receipts", [receipt(status="FAILED")])
    clock.advance(1)
    now = store.aggregates(BY_SUPPLIER_CARRIER)[("aliyun", "cmcc")]
    assert (now["total"], now["failed"]) == (1, 1)


def test_a_clock_stepping_back_keeps_events_in_the_current_second() -> None:
    store, clock = store_with(BY_SUPPLIER_CARRIER)
    clock.advance(10)
    store.add_batch("receipts", [receipt()])
    clock.advance(-5)
    store.add_batch("receipts", [receipt()])
    clock.advance(5 + 59)
    assert store.aggregates(BY_SUPPLIER_CARRIER)[("aliyun", "cmcc")]["total"] == 2
    clock.advance(1)
    assert store.aggregates(BY_SUPPLIER_CARRIER)[("aliyun", "cmcc")]["total"] == 0


def test_submits_windows_count_acceptance_and_error_codes() -> None:
    spec = WindowSpec("submits", ("supplier",), window_s=60)
    store, clock = store_with(spec)
    store.add_batch(
        "submits",
        [submit(), submit(), submit(), submit(accepted=False, error_code="isv.AMOUNT_NOT_ENOUGH")],
    )
    clock.advance(1)
    submits = store.aggregates(spec)[("aliyun",)]
    assert (submits["total"], submits["accepted"], submits["rejected"]) == (4, 3, 1)
    assert (submits["accept_rate"], submits["reject_rate"]) == (0.75, 0.25)
    assert submits["error_share"] == {"isv.AMOUNT_NOT_ENOUGH": 0.25}


def test_supplier_log_windows_count_levels_and_codes() -> None:
    spec = WindowSpec("supplier_logs", ("supplier",), window_s=60)
    store, clock = store_with(spec)
    store.add_batch(
        "supplier_logs",
        [
            supplier_log(level="ERROR", code="BALANCE_LOW"),
            supplier_log(level="CRITICAL", code="OUTAGE"),
            supplier_log(level="WARNING", code="BALANCE_LOW"),
            supplier_log(level="INFO", code=""),
        ],
    )
    clock.advance(1)
    logs = store.aggregates(spec)[("aliyun",)]
    assert logs["by_level"] == {"DEBUG": 0, "INFO": 1, "WARNING": 1, "ERROR": 1, "CRITICAL": 1}
    assert logs["by_code"] == {"BALANCE_LOW": 2, "OUTAGE": 1}
    assert (logs["error_count"], logs["warning_count"], logs["total"]) == (2, 1, 4)


def test_probe_windows_group_by_probe_labels_too() -> None:
    spec = WindowSpec("probes", ("target", "region"), window_s=60)
    store, clock = store_with(spec)
    store.add_batch(
        "probes",
        [probe(region="hz"), probe(region="hz", ok=False), probe(region="sz"), probe()],
    )
    clock.advance(1)
    windows = store.aggregates(spec)
    assert set(windows) == {("aliyun", "hz"), ("aliyun", "sz"), ("aliyun", "")}
    hangzhou = windows[("aliyun", "hz")]
    assert (hangzhou["ok"], hangzhou["failed"], hangzhou["success_rate"]) == (1, 1, 0.5)
    assert hangzhou["p50"] == pytest.approx(900, rel=0.01)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (WindowSpec("sms", (), 60), "unknown source 'sms'"),
        (WindowSpec("receipts", ("tenant",), 60), "receipts cannot be grouped by tenant"),
        (WindowSpec("probes", ("ok",), 60), "labels ok clash with probes aggregates"),
    ],
)
def test_a_window_that_cannot_exist_is_refused_with_the_reason(
    spec: WindowSpec, message: str
) -> None:
    store, _ = store_with()
    with pytest.raises(ValueError, match=message):
        store.register(spec)


def test_window_lengths_are_whole_positive_seconds() -> None:
    with pytest.raises(ValueError, match="whole seconds"):
        WindowSpec("receipts", (), 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 1 second"):
        WindowSpec("receipts", (), 0)


def test_reading_a_window_nobody_registered_is_an_error() -> None:
    store, _ = store_with(BY_SUPPLIER_CARRIER)
    with pytest.raises(ValueError, match="not registered"):
        store.aggregates(WindowSpec("receipts", ("supplier", "carrier"), 120))


def test_retain_drops_what_no_rule_reads_any_more() -> None:
    five_minutes = WindowSpec("receipts", ("supplier",), window_s=300)
    store, clock = store_with(BY_SUPPLIER_CARRIER, five_minutes)
    store.retain([five_minutes])
    assert [stream.by for stream in store.stats()] == [("supplier",)]
    with pytest.raises(ValueError, match="not registered"):
        store.aggregates(BY_SUPPLIER_CARRIER)
    store.add_batch("receipts", [receipt()])
    clock.advance(1)
    assert store.aggregates(five_minutes)[("aliyun",)]["total"] == 1
