"""An alert's identity: a stable hash of its full label set."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def fingerprint(labels: Mapping[str, str]) -> str:
    """16 hex digits of SHA-256 over the sorted labels; the same labels give the same alert."""
    digest = hashlib.sha256()
    for name in sorted(labels):
        digest.update(name.encode())
        digest.update(b"\xff")
        digest.update(labels[name].encode())
        digest.update(b"\xff")
    return digest.hexdigest()[:16]
