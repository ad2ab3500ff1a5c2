"""The degradation policy as the receipt gateway applies it: which receipts go on sms.receipts.

Under `sample` a marketing receipt is published only when its message id falls in the sample
(the hash persistence uses, so every status of one message and every replica agree), with
weight 1/sample_ratio so the control plane's windows still count what it stands for; the rest
are counted here, not published. Under the shed levels every receipt is published unchanged:
the windows must count each one, and persistence drops the shed classes. OTP is never sampled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from sendtier.persist.degradation import DegradationGate, sample_point
from smsplatform.contracts import Receipt

# The classes `sample` thins out; the shed levels thin out nothing on the bus.
SAMPLED_CLASSES = frozenset({"marketing"})


@dataclass(frozen=True, slots=True)
class SampledReceipts:
    """One batch after sampling: what to publish, and how many were left out per class."""

    publish: list[Receipt]
    unsampled: Counter[str] = field(default_factory=Counter)


class ReceiptSampler:
    """Splits receipt batches by the policy the gate holds (kept current by the policy feed)."""

    def __init__(self, gate: DegradationGate) -> None:
        self.gate = gate

    def apply(self, receipts: Sequence[Receipt]) -> SampledReceipts:
        policy = self.gate.policy
        if policy is None or self.gate.level() != "sample":
            return SampledReceipts(list(receipts))
        ratio = policy.sample_ratio
        weight = 1.0 / ratio
        publish: list[Receipt] = []
        unsampled: Counter[str] = Counter()
        for receipt in receipts:
            if receipt.message_class not in SAMPLED_CLASSES:
                publish.append(receipt)
            elif sample_point(receipt.message_id) < ratio:
                publish.append(msgspec.structs.replace(receipt, weight=weight))
            else:
                unsampled[receipt.message_class] += 1
        return SampledReceipts(publish, unsampled)
