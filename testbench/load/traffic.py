"""What the load generator sends: a class mix, numbers over the three carriers, filled templates."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, get_args

from smsplatform.contracts import MessageClass

MESSAGE_CLASSES: Final[tuple[MessageClass, ...]] = get_args(MessageClass)
_CLASS_NAMES: Final[dict[str, MessageClass]] = {name: name for name in MESSAGE_CLASSES}
DEFAULT_MIX: Final[dict[MessageClass, float]] = {"otp": 0.3, "notification": 0.5, "marketing": 0.2}
# Mainland mobile ranges of the three big carriers (SUPPLIERS.md §5), as phonenumbers knows them.
CARRIER_PREFIXES: Final[dict[str, tuple[str, ...]]] = {
    "cmcc": ("135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159",
             "182", "183", "184", "187", "188", "198"),
    "cucc": ("130", "131", "132", "155", "156", "166", "175", "176", "185", "186"),
    "ctcc": ("133", "153", "173", "177", "180", "181", "189", "191", "199"),
}  # fmt: skip


def parse_mix(text: str) -> dict[MessageClass, float]:
    """Shares adding up to 1 from "otp=0.3,notification=0.5,marketing=0.2"; ValueError if bad."""
    weights: dict[MessageClass, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        message_class = _CLASS_NAMES.get(name.strip())
        if message_class is None:
            expected = ", ".join(MESSAGE_CLASSES)
            raise ValueError(f"unknown message class {name.strip()!r}; expected {expected}")
        try:
            weight = float(value)
        except ValueError:
            raise ValueError(f"weight of {message_class} is not a number: {value!r}") from None
        if weight < 0:
            raise ValueError(f"weight of {message_class} is negative")
        weights[message_class] = weight
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("the mix needs at least one positive weight")
    return {name: weight / total for name, weight in weights.items() if weight > 0}


@dataclass(frozen=True)
class TemplateChoice:
    """A template the tenant may send, and its parameter names."""

    id: str
    params: tuple[str, ...]


class Traffic:
    """Random but realistic requests: numbers over the three carriers, filled-in templates."""

    def __init__(
        self, templates: Mapping[MessageClass, Sequence[TemplateChoice]], seed: int | None
    ) -> None:
        self._templates = templates
        self._rng = random.Random(seed)
        self._carriers = tuple(CARRIER_PREFIXES)

    def recipient(self) -> tuple[str, str]:
        """A random E.164 mainland mobile number and its carrier."""
        rng = self._rng
        carrier = rng.choice(self._carriers)
        prefix = rng.choice(CARRIER_PREFIXES[carrier])
        return f"+86{prefix}{rng.randrange(100_000_000):08d}", carrier

    def template(self, message_class: MessageClass) -> TemplateChoice:
        return self._rng.choice(self._templates[message_class])

    def params(self, template: TemplateChoice) -> dict[str, str]:
        return {name: f"{self._rng.randrange(1_000_000):06d}" for name in template.params}

    def pick_class(self, mix: Sequence[tuple[MessageClass, float]]) -> MessageClass:
        point = self._rng.random()
        for message_class, upto in mix:
            if point < upto:
                return message_class
        return mix[-1][0]
