"""Which receipt sets messages.last_status: the first final status wins (SUPPLIERS.md §7.1)."""

from __future__ import annotations

from datetime import timedelta

import msgspec
from persist_helpers import T0, receipt

from sendtier.persist import plan_status_updates
from sendtier.persist.statuses import StatusConflict


def test_the_first_taken_final_of_a_batch_wins_whatever_its_place_in_the_batch() -> None:
    late_failure = receipt(1, "FAILED", seconds=8)
    early_delivery = receipt(1, "DELIVERED", seconds=4)

    plan = plan_status_updates([late_failure, early_delivery], {"m-00001": None})

    assert plan.updates == [("m-00001", "DELIVERED", early_delivery.reported_at)]
    assert plan.conflicts == [StatusConflict("m-00001", kept="DELIVERED", refused="FAILED")]


def test_a_final_taken_later_does_not_win_by_claiming_an_earlier_report_time() -> None:
    taken_first = receipt(1, "DELIVERED", seconds=4)
    # Taken after the delivery, yet saying it happened an hour before the message was sent.
    claims_earlier = msgspec.structs.replace(
        receipt(1, "FAILED", seconds=8), reported_at=T0 - timedelta(hours=1)
    )

    plan = plan_status_updates([claims_earlier, taken_first], {"m-00001": None})

    assert plan.updates == [("m-00001", "DELIVERED", taken_first.reported_at)]
    assert plan.conflicts == [StatusConflict("m-00001", kept="DELIVERED", refused="FAILED")]


def test_a_stored_final_status_is_kept_and_a_different_final_is_a_conflict() -> None:
    plan = plan_status_updates(
        [receipt(1, "EXPIRED"), receipt(2, "DELIVERED"), receipt(3, "UNKNOWN")],
        {"m-00001": "DELIVERED", "m-00002": "DELIVERED", "m-00003": "FAILED"},
    )

    assert plan.updates == []
    assert plan.conflicts == [StatusConflict("m-00001", kept="DELIVERED", refused="EXPIRED")]


def test_unknown_is_replaced_by_a_late_final_but_never_replaces_one() -> None:
    plan = plan_status_updates(
        [receipt(1, "REJECTED"), receipt(2, "UNKNOWN"), receipt(3, "UNKNOWN")],
        {"m-00001": "UNKNOWN", "m-00002": None, "m-00003": "UNKNOWN"},
    )

    assert plan.updates == [
        ("m-00001", "REJECTED", receipt(1).reported_at),
        ("m-00002", "UNKNOWN", receipt(2).reported_at),
    ]
    assert plan.conflicts == []


def test_receipts_of_messages_not_stored_yet_are_left_for_later() -> None:
    plan = plan_status_updates([receipt(9), receipt(9, "FAILED")], {})

    assert plan.updates == []
    assert plan.missing == ["m-00009"]
