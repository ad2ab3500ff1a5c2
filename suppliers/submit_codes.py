"""Submit-error classification: a dialect's error codes → SubmitErrorClass (SUPPLIERS.md §7.2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from suppliers.base import SubmitErrorClass


def class_for_http_status(status_code: int) -> SubmitErrorClass:
    """The class of an answer whose code no table knows, judged by its HTTP status alone.

    429 is throttling everywhere, and 401/403 refuse our credentials, so every message through
    this supplier would fail alike. 5xx is the supplier's own fault: another supplier may well
    take the message. Anything else (4xx, or a 200 carrying an unknown business code) is taken
    as a verdict on this message: retrying it elsewhere would likely repeat the mistake.
    """
    if status_code == 429:
        return SubmitErrorClass.THROTTLED
    if status_code in (401, 403):
        return SubmitErrorClass.SUPPLIER_WIDE
    if status_code >= 500:
        return SubmitErrorClass.RETRIABLE
    return SubmitErrorClass.PERMANENT


@dataclass(frozen=True)
class CodeTable:
    """One dialect's classification: exact codes first, then code families by prefix."""

    exact: Mapping[str, SubmitErrorClass]
    # (prefix, class) pairs, tried longest prefix first so a narrow family beats a broad one.
    prefixes: tuple[tuple[str, SubmitErrorClass], ...] = ()

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.prefixes, key=lambda pair: len(pair[0]), reverse=True))
        object.__setattr__(self, "prefixes", ordered)

    def lookup(self, code: str) -> SubmitErrorClass | None:
        """The class the table gives `code`, or None when it does not know it."""
        known = self.exact.get(code)
        if known is not None:
            return known
        for prefix, error_class in self.prefixes:
            if code.startswith(prefix):
                return error_class
        return None

    def classify(self, code: str, status_code: int) -> SubmitErrorClass:
        """The class of `code`, falling back on the HTTP status for codes the table lacks."""
        return self.lookup(code) or class_for_http_status(status_code)
