"""Turning grouped alerts into the Notification a channel renders: one group, or a digest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from controlplane.alerting.pipeline.groups import GroupedAlert
from notifiers.base import AlertSummary, Notification

SEVERITY_ORDER = ("critical", "error", "warning", "info")


def summary(grouped: GroupedAlert, status: str) -> AlertSummary:
    alert = grouped.alert
    return AlertSummary(
        fingerprint=alert.fingerprint,
        status=status,
        # Shared, not copied: both are never changed once an alert holds them (10,000 copies
        # were a tenth of a 500-group flush).
        labels=alert.labels,
        annotations=grouped.annotations,
        starts_at=alert.started_at or alert.active_since,
        ends_at=alert.resolved_at if status == "resolved" else None,
        value=alert.value,
        generator_url=grouped.generator_url,
    )


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def _severity(alerts: Sequence[AlertSummary]) -> str:
    present = {a.labels.get("severity", "") for a in alerts if a.status == "firing"}
    for level in SEVERITY_ORDER:
        if level in present:
            return level
    return next(iter(sorted(present - {""})), "")


def build(
    receiver: str,
    group_key: str,
    group_labels: Mapping[str, str],
    alerts: Sequence[AlertSummary],
    console_url: str | None,
    *,
    notification_id: str,
) -> Notification:
    """A notification of these alerts; firing first, so a cut message keeps what matters.

    `notification_id` names the send it is for (notification_log.notification_id)."""
    ordered = sorted(alerts, key=lambda a: (a.status != "firing", a.starts_at, a.fingerprint))
    return Notification(
        receiver=receiver,
        group_key=group_key,
        status="firing" if any(a.status == "firing" for a in ordered) else "resolved",
        alerts=tuple(ordered),
        group_labels=dict(group_labels),
        common_labels=_common([a.labels for a in ordered]),
        common_annotations=_common([a.annotations for a in ordered]),
        console_url=console_url,
        severity=_severity(ordered),
        notification_id=notification_id,
    )
