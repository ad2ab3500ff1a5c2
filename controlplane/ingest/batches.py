"""Decoding of ingest bodies (one JSON event, a JSON array, or NDJSON) into contract events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smsplatform.contracts import ContractError, EventT, decode_json, decode_json_list


@dataclass(frozen=True)
class BadEvent(Exception):
    """The first event of a body that does not fit its contract, and where it stood."""

    message: str
    field: str | None
    line: int | None = None  # NDJSON: 1-based line of the body
    item: int | None = None  # JSON array: 1-based position in the array

    def location(self) -> dict[str, Any]:
        """Where the bad event stood and what was wrong, for the 422 body."""
        body: dict[str, Any] = {"detail": self.message}
        if self.line is not None:
            body["line"] = self.line
        if self.item is not None:
            body["item"] = self.item
        body["field"] = self.field
        return body


def decode_body(kind: type[EventT], body: bytes, content_type: str) -> list[EventT]:
    """All events of a body, or BadEvent for the first one that is wrong (then none is taken)."""
    stripped = body.strip()
    if not stripped:
        raise BadEvent("the body holds no events", None)
    if "ndjson" in content_type or "jsonl" in content_type:
        return _decode_ndjson(kind, stripped)
    if stripped[:1] == b"[":
        try:
            return decode_json_list(kind, stripped)
        except ContractError as exc:
            item = exc.index + 1 if exc.index is not None else None
            raise BadEvent(exc.message, exc.field, item=item) from None
    if stripped[:1] == b"{" and b"\n" in stripped and _looks_like_ndjson(stripped):
        return _decode_ndjson(kind, stripped)
    try:
        return [decode_json(kind, stripped)]
    except ContractError as exc:
        raise BadEvent(exc.message, exc.field, line=1) from None


def _looks_like_ndjson(body: bytes) -> bool:
    """A body of several lines each starting an object, sent without an NDJSON content type."""
    lines = [line for line in body.split(b"\n") if line.strip()]
    return len(lines) > 1 and all(line.lstrip()[:1] == b"{" for line in lines[:2])


def _decode_ndjson(kind: type[EventT], body: bytes) -> list[EventT]:
    # Fast path: one decode of the lines joined as a JSON array. A line break inside a JSON value
    # is invalid JSON anyway, so the join never changes what a line means.
    numbered = [(n, line) for n, line in enumerate(body.split(b"\n"), 1) if line.strip()]
    joined = b"[" + b",".join(line for _, line in numbered) + b"]"
    try:
        return decode_json_list(kind, joined)
    except ContractError as exc:
        if exc.index is not None:
            raise BadEvent(exc.message, exc.field, line=numbered[exc.index][0]) from None
    # Malformed JSON carries no index: find the first line that fails on its own.
    for number, line in numbered:
        try:
            decode_json(kind, line)
        except ContractError as exc:
            raise BadEvent(exc.message, exc.field, line=number) from None
    raise BadEvent("the body is not valid NDJSON", None)  # pragma: no cover - join of valid lines
