"""SMS length rules: GSM-7 or UCS-2 encoding and the billed segment count (SUPPLIERS.md §5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 default alphabet (the ESC code itself is left out: it only introduces extensions).
GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table characters: sent as ESC + code, so each takes two septets.
GSM7_EXTENSION: Final = frozenset("|^€{}[]~\\")

GSM7_SINGLE, GSM7_PART = 160, 153  # a 6-byte concatenation header costs 7 septets per part
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True, slots=True)
class SegmentCount:
    """How a text travels: its encoding, its length in that encoding's units, and its parts."""

    encoding: Encoding
    units: int
    segments: int


def count_segments(text: str) -> SegmentCount:
    """The encoding and segment count of `text`; an empty text still costs one segment.

    Parts are counted as ⌈units / per-part⌉, the rule suppliers bill by (SUPPLIERS.md §5); a
    handset may split one unit later to keep an escape pair or a surrogate pair whole.
    """
    septets = 0
    for char in text:
        if char in GSM7_BASIC:
            septets += 1
        elif char in GSM7_EXTENSION:
            septets += 2
        else:
            return _ucs2(text)
    return SegmentCount("GSM-7", septets, _parts(septets, GSM7_SINGLE, GSM7_PART))


def _ucs2(text: str) -> SegmentCount:
    # UTF-16 code units: a character outside the BMP (an emoji) takes two, as on the handset.
    # Every Chinese character, letter, digit and space is one, which is the suppliers' billing rule.
    units = len(text.encode("utf-16-le")) // 2
    return SegmentCount("UCS-2", units, _parts(units, UCS2_SINGLE, UCS2_PART))


def _parts(units: int, single: int, part: int) -> int:
    if units <= single:
        return 1
    return -(-units // part)
