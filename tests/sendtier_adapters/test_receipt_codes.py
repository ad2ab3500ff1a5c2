"""Carrier and SMPP receipt codes normalize as SUPPLIERS.md §4 and §7.1 say."""

from __future__ import annotations

import pytest

from suppliers.receipt_codes import failed_report_status, smpp_stat_status

# The carrier-code table of §4, row by row.
CARRIER_CODES = {
    "MK:0001": "FAILED",
    "MK:0005": "FAILED",
    "MK:0013": "FAILED",
    "MK:0010": "EXPIRED",
    "MK:0023": "FAILED",
    "MK:0014": "REJECTED",
    "MK:0115": "REJECTED",
    "MK:1004": "REJECTED",
    "MK:0208": "FAILED",
    "MK:0209": "FAILED",
    "MK:0999": "FAILED",  # any other MK:
    "MI:0999": "FAILED",
    "LT:0001": "FAILED",
    "MI:0024": "FAILED",
    "MI:0042": "FAILED",
    "MI:0054": "FAILED",
    "MI:0073": "FAILED",
    "MI:0061": "FAILED",
    "MI:0062": "FAILED",
    "MI:0079": "REJECTED",
    "MN:0001": "FAILED",
    "DB:0101": "FAILED",
    "DB:0102": "FAILED",
    "DB:0108": "FAILED",
    "DB:0142": "REJECTED",
    "DB:0144": "REJECTED",
    "DB:0141": "REJECTED",
    "IB:0008": "FAILED",
    "IC:0154": "FAILED",
    "IC:0151": "FAILED",
    "ID:0011": "FAILED",
    "ID:0076": "REJECTED",
    "BLACK": "REJECTED",
    "MBBLACK": "REJECTED",
    "DBBLACK": "REJECTED",
    "TDBLACK": "REJECTED",
    "TSBLACK": "REJECTED",
    "BLOCKED": "REJECTED",
    "KEYWORD": "REJECTED",
    "LIMIT": "REJECTED",
    "MILIMIT": "REJECTED",
    "BEYONDN": "REJECTED",
    "CTLIMIT": "REJECTED",
    "BEYONDM": "REJECTED",
    "BEYONDH": "REJECTED",
    "BEYONDD": "REJECTED",
    "NOROUTE": "FAILED",
    "EXPIRED": "EXPIRED",
    "REJECTD": "REJECTED",
    "UNDELIV": "FAILED",
    "SOMETHING_NEW": "FAILED",
}


@pytest.mark.parametrize(("code", "expected"), CARRIER_CODES.items())
def test_failed_report_code_normalizes_per_carrier_table(code: str, expected: str) -> None:
    assert failed_report_status(code) == expected


def test_aggregator_variants_of_blacklist_and_limit_words_are_rejections() -> None:
    assert failed_report_status("YDBLACK") == "REJECTED"
    assert failed_report_status("HOURLIMIT") == "REJECTED"
    assert failed_report_status("BEYONDW") == "REJECTED"
    # A colon marks a carrier number-state code: never caught by the word shapes.
    assert failed_report_status("XX:LIMIT") == "FAILED"


def test_failed_report_code_is_read_whatever_its_case_and_padding() -> None:
    assert failed_report_status(" mk:0010 ") == "EXPIRED"
    assert failed_report_status("db:0144") == "REJECTED"


def test_failed_report_without_code_is_failed() -> None:
    assert failed_report_status(None) == "FAILED"
    assert failed_report_status("") == "FAILED"


@pytest.mark.parametrize(
    ("stat", "expected"),
    [
        ("ENROUTE", None),
        ("ACCEPTD", None),
        ("DELIVRD", "DELIVERED"),
        ("EXPIRED", "EXPIRED"),
        ("DELETED", "FAILED"),
        ("UNDELIV", "FAILED"),
        ("UNKNOWN", "UNKNOWN"),
        ("REJECTD", "REJECTED"),
        ("MK:0001", "FAILED"),
        ("MK:0010", "EXPIRED"),
        ("DB:0144", "REJECTED"),
        ("KEYWORD", "REJECTED"),
        ("delivrd", "DELIVERED"),
    ],
)
def test_smpp_stat_normalizes_per_state_table(stat: str, expected: str | None) -> None:
    assert smpp_stat_status(stat) == expected
