"""What the pipeline sends through: receivers and their channels, built from alerting.yaml."""

from __future__ import annotations

from dataclasses import dataclass

from notifiers.base import Notifier
from notifiers.budget import SlidingWindowBudget


@dataclass(frozen=True)
class Channel:
    """One endpoint of a receiver, with its budget when the service limits its rate."""

    notifier: Notifier
    budget: SlidingWindowBudget | None = None
    name: str = ""  # for logs and the log row; defaults to the notifier's channel
    # Who to reach: phone numbers or `oncall:<layer>@<schedule>`, resolved at send time.
    targets: tuple[str, ...] = ()
    send_resolved: bool = True


@dataclass(frozen=True)
class Receiver:
    """A named receiver: its channels in fallback order."""

    name: str
    channels: tuple[Channel, ...]

    @property
    def send_resolved(self) -> bool:
        """Resolved messages go out when any of its channels asks for them."""
        return any(channel.send_resolved for channel in self.channels)
