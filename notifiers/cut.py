"""Cutting message bodies to a channel's UTF-8 byte limit, keeping a console link at the end."""

from __future__ import annotations

ELLIPSIS = "…"


def cut_utf8(text: str, limit_bytes: int) -> str:
    """The longest prefix of `text` whose UTF-8 encoding fits in `limit_bytes` (no split chars)."""
    encoded = text.encode()
    if len(encoded) <= limit_bytes:
        return text
    # errors="ignore" drops the partial multi-byte character the byte cut may leave at the end.
    return encoded[: max(limit_bytes, 0)].decode(errors="ignore")


def fit(body: str, limit_bytes: int, link_line: str | None = None) -> str:
    """`body` plus `link_line` (after a blank line) within `limit_bytes`; the body is cut first.

    A cut body ends with an ellipsis so the reader knows to follow the link for the rest.
    """
    suffix = f"\n\n{link_line}" if link_line else ""
    if len((body + suffix).encode()) <= limit_bytes:
        return body + suffix
    room = limit_bytes - len(suffix.encode()) - len(ELLIPSIS.encode())
    if room <= 0:
        return cut_utf8(body + suffix, limit_bytes)
    return cut_utf8(body, room).rstrip() + ELLIPSIS + suffix
