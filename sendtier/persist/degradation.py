"""The degradation policy as storage applies it: which receipts are stored, which are shed.

The receipt gateway publishes every receipt, so the control plane's windows still count them all;
degrading is about storage load, so it is applied here, where receipts are written:

- `normal`: every receipt is stored.
- `sample`: a marketing receipt is stored with probability `sample_ratio`, decided by a hash of
  its message id, so every status of one message is kept or shed together, on every replica.
- `shed_marketing`: no marketing receipt is stored.
- `shed_notification`: no marketing and no notification receipt is stored.

OTP receipts are never shed. A policy past its `until` time counts as `normal`.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable
from typing import Final

from smsplatform.clock import Clock
from smsplatform.contracts import DegradationLevel, DegradationPolicy, MessageClass, Receipt

log = logging.getLogger(__name__)

_HASH_SPACE: Final = 2**64
# The message classes each level sheds (entirely, or by sample for `sample`).
DEGRADED_CLASSES: Final[dict[DegradationLevel, frozenset[MessageClass]]] = {
    "normal": frozenset(),
    "sample": frozenset({"marketing"}),
    "shed_marketing": frozenset({"marketing"}),
    "shed_notification": frozenset({"marketing", "notification"}),
}


def sample_point(message_id: str) -> float:
    """Where a message id falls in [0, 1): uniform, and the same in every process."""
    digest = hashlib.blake2b(message_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _HASH_SPACE


class DegradationGate:
    """Holds the newest policy seen and splits receipt batches into stored and shed."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._policy: DegradationPolicy | None = None

    @property
    def policy(self) -> DegradationPolicy | None:
        return self._policy

    def update(self, policy: DegradationPolicy) -> bool:
        """Adopt `policy` if it is newer than the one held; True when it was adopted."""
        if self._policy is not None and policy.version <= self._policy.version:
            return False
        previous = self._policy.level if self._policy is not None else "normal"
        self._policy = policy
        log.info(
            "persist.degradation adopted version=%d level=%s previous=%s sample_ratio=%s "
            "until=%s reason=%r",
            policy.version,
            policy.level,
            previous,
            policy.sample_ratio,
            policy.until.isoformat() if policy.until else None,
            policy.reason,
        )
        return True

    def level(self) -> DegradationLevel:
        """The level in force now."""
        policy = self._policy
        if policy is None or (policy.until is not None and self._clock.now() >= policy.until):
            return "normal"
        return policy.level

    def split(self, receipts: Iterable[Receipt]) -> tuple[list[Receipt], Counter[str]]:
        """The receipts to store, and how many were shed per message class."""
        level = self.level()
        degraded = DEGRADED_CLASSES[level]
        shed: Counter[str] = Counter()
        if not degraded:
            return list(receipts), shed
        ratio = self._policy.sample_ratio if self._policy is not None else 1.0
        kept: list[Receipt] = []
        for receipt in receipts:
            message_class = receipt.message_class
            if message_class not in degraded or (
                level == "sample" and sample_point(receipt.message_id) < ratio
            ):
                kept.append(receipt)
            else:
                shed[message_class] += 1
        return kept, shed
