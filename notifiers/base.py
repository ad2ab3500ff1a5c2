"""What every notification channel provides, and what it is handed and answers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    DELIVERED = "delivered"  # the service accepted it
    RETRY = "retry"  # transient (5xx, busy, rate limited): try again after `retry_after_s`
    FAILED = "failed"  # final for this channel (bad signature, unknown token, bad payload)


@dataclass(frozen=True)
class AlertSummary:
    """One alert of a notification, as a channel renders it."""

    fingerprint: str
    status: str  # "firing" | "resolved"
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    value: float | None = None
    # Where the alert came from (a rule in the console), for Alertmanager-compatible payloads.
    generator_url: str = ""


@dataclass(frozen=True)
class Notification:
    """One message to one channel endpoint: a group of alerts, or a digest of several groups."""

    receiver: str
    group_key: str
    status: str  # "firing" if any alert fires, else "resolved"
    alerts: Sequence[AlertSummary]
    group_labels: Mapping[str, str] = field(default_factory=dict)
    common_labels: Mapping[str, str] = field(default_factory=dict)
    common_annotations: Mapping[str, str] = field(default_factory=dict)
    # Who to reach: phone numbers (SMS, voice, @mentions), resolved from on-call schedules.
    recipients: Sequence[str] = ()
    # A signed, expiring link that acknowledges the group's escalation episode (stops it).
    ack_url: str | None = None
    # The escalation episode the message speaks for (None: none): a voice call placed for it
    # is bound to it, so a key press acknowledges that episode and no later one.
    episode_id: int | None = None
    console_url: str | None = None
    severity: str = ""
    is_test: bool = False
    # Names this notification, not its content: its retries and fallbacks (copies made with
    # dataclasses.replace) keep it, a notification built later (a repeat) gets its own. A
    # channel that can make a send idempotent (the send API's Idempotency-Key) derives it so.
    notification_id: str = field(default_factory=lambda: uuid.uuid4().hex, compare=False)


@dataclass(frozen=True)
class NotifyResult:
    outcome: Outcome
    channel: str
    detail: str = ""
    error_code: str | None = None
    retry_after_s: float | None = None
    # Ids the service gave back (a voice call id, SMS message ids), for callbacks and audit.
    reference: str | None = None


class Notifier(Protocol):
    """One configured endpoint of one channel (a robot, an app, a phone list, a URL)."""

    @property
    def channel(self) -> str:
        """`dingtalk`, `wecom`, `wecom_app`, `sms`, `voice` or `webhook`."""
        ...

    async def send(self, notification: Notification) -> NotifyResult:
        """Send once; never raises for service or network errors: they are results."""
        ...

    async def aclose(self) -> None: ...
