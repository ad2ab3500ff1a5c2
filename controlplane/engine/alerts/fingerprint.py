"""An alert's identity: a stable hash of its full label set."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Final

_SEPARATOR: Final = b"\xff"  # never in UTF-8 text: no two label sets hash the same bytes


def fingerprint(labels: Mapping[str, str]) -> str:
    """16 hex digits of SHA-256 over the sorted labels, each name and value followed by 0xff;
    the same labels give the same alert (and stored fingerprints stay valid)."""
    parts: list[bytes] = []
    for name in sorted(labels):
        parts += (name.encode(), _SEPARATOR, labels[name].encode(), _SEPARATOR)
    # One update over the joined bytes: every alert of every rule is hashed each round.
    return hashlib.sha256(b"".join(parts)).hexdigest()[:16]
