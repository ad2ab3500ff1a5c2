"""Receipt status normalization: carrier and SMPP/CMPP codes → ReceiptStatus (SUPPLIERS.md §7.1).

The Chinese carrier codes of §4 reach us through Alibaba `err_code`, Tencent `errmsg` and CMPP
`stat` alike, so every reader maps a failed report's code through the one table here.
"""

from __future__ import annotations

from typing import Final

from smsplatform.contracts import ReceiptStatus

# Codes meaning the validity period ran out (handset off or out of area too long).
EXPIRED_CODES: Final = frozenset({"EXPIRED", "MK:0010"})

# The REJECTED rows of §4: content intercepts, blacklists and per-number rate limits.
REJECTED_CODES: Final = frozenset(
    {
        "REJECTD",
        # content security / spam / keyword intercept
        "MK:0014",
        "MK:0115",
        "MK:1004",
        "ID:0076",
        "KEYWORD",
        # blacklists (unsubscribed or complained)
        "DB:0141",
        "DB:0144",
        "BLACK",
        "MBBLACK",
        "DBBLACK",
        "TDBLACK",
        "TSBLACK",
        "BLOCKED",
        # per-number send limits
        "MI:0079",
        "DB:0142",
        "LIMIT",
        "MILIMIT",
        "CTLIMIT",
        "BEYONDN",
        "BEYONDM",
        "BEYONDH",
        "BEYONDD",
    }
)

# SMPP/CMPP `stat` values that are not final: the SMSC is still trying. `ACCEPTD` is final in
# SMPP, but Chinese platforms use it for "accepted, temporary" (§4), so it counts as pending here.
PENDING_STATS: Final = frozenset({"ENROUTE", "ACCEPTD"})

_FINAL_STATS: Final[dict[str, ReceiptStatus]] = {
    "DELIVRD": "DELIVERED",
    "EXPIRED": "EXPIRED",
    "UNDELIV": "FAILED",
    "DELETED": "FAILED",
    "UNKNOWN": "UNKNOWN",
    "REJECTD": "REJECTED",
}


def _canonical(code: str) -> str:
    return code.strip().upper()


def failed_report_status(code: str | None) -> ReceiptStatus:
    """The status of a report the supplier marked failed, from its carrier/platform code.

    EXPIRED and REJECTED for the codes of those rows; FAILED for any other code (number state,
    gateway errors, and codes we have never seen), as §7.1 prescribes.
    """
    if code is None:
        return "FAILED"
    canonical = _canonical(code)
    if canonical in EXPIRED_CODES:
        return "EXPIRED"
    if canonical in REJECTED_CODES:
        return "REJECTED"
    # Aggregators coin variants of the blacklist and rate-limit words (`XXBLACK`, `XXLIMIT`,
    # `BEYONDx`); carrier codes carry a colon (`MI:0079`) and never match these shapes.
    if ":" not in canonical and (
        canonical.endswith(("BLACK", "LIMIT")) or canonical.startswith("BEYOND")
    ):
        return "REJECTED"
    return "FAILED"


def smpp_stat_status(stat: str) -> ReceiptStatus | None:
    """The status of an SMPP/CMPP `stat` (a 7-char state or a carrier code); None if not final."""
    canonical = _canonical(stat)
    if canonical in PENDING_STATS:
        return None
    final = _FINAL_STATS.get(canonical)
    if final is not None:
        return final
    return failed_report_status(canonical)
