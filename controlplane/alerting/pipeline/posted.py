"""Alerts posted in Alertmanager's API v2 shape: decoded, validated per alert, made GroupedAlerts.

The rules are Alertmanager 0.25's (api/v2 postAlertsHandler): a missing startsAt is now (or
endsAt, when only that is given); a missing endsAt is now + `resolve_timeout`, after which the
alert resolves unless it is posted again; an alert whose endsAt has passed is resolved; empty
label values are dropped. Each invalid alert is reported with its index and field, and the
valid ones of the same batch are still taken, as Alertmanager does (a sender such as Prometheus
drops a batch answered with 4xx: one bad alert must not cost the others).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from controlplane.alerting.pipeline.groups import GroupedAlert
from controlplane.engine.alerts import Alert, AlertState, fingerprint
from smsplatform.contracts import NESTED_TOO_DEEPLY

# Go's zero time: what a sender writes for "not set".
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
# Prometheus' model.LabelName.IsValid in Alertmanager 0.25 (legacy names).
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Posted alerts belong to no rule of ours: their rule key names where they came from.
POSTED_RULE_PREFIX = "posted/"


class PostableAlert(msgspec.Struct, rename="camel"):
    """One alert of the request body; only `labels` is required."""

    # Values are checked per alert (not by the decoder) so an error can name the label.
    labels: dict[str, Any]
    annotations: dict[str, Any] = {}
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = msgspec.field(default="", name="generatorURL")


@dataclass(frozen=True)
class AlertProblem:
    """Why one posted alert was refused: the field (with the alert's index) and what is wrong."""

    field: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "detail": self.detail}


@dataclass(frozen=True)
class PostedBatch:
    """The outcome of one request: the alerts taken and the problems of the refused ones."""

    alerts: list[GroupedAlert]
    problems: list[AlertProblem]
    firing: int
    resolved: int


class MalformedBody(ValueError):
    """The body is not a JSON list of alerts; `field` is where decoding failed."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


_DECODER = msgspec.json.Decoder(list[PostableAlert])
# msgspec's error text ends with "- at `$[3].labels`": the path, turned into our field name.
_AT_PATH = re.compile(r"^(?P<detail>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")
# ... and a missing field is named in the text, not the path: "missing required field `labels`".
_MISSING = re.compile(r"missing required field `(?P<name>[^`]+)`")


def decode_alerts(body: bytes) -> list[PostableAlert]:
    """The body as postable alerts; MalformedBody names the field when types or JSON are wrong."""
    try:
        return _DECODER.decode(body)
    except msgspec.ValidationError as exc:
        found = _AT_PATH.match(str(exc))
        path = found.group("path") if found and found.group("path") else ""
        detail = found.group("detail") if found else str(exc)
        missing = _MISSING.search(detail)
        if missing is not None:
            path += f".{missing.group('name')}"
        raise MalformedBody(f"alerts{path}", detail) from None
    except msgspec.DecodeError as exc:
        raise MalformedBody("alerts", f"not JSON: {exc}") from None
    except RecursionError:  # a label value of [[[[...]]]]: msgspec's limit on nesting
        raise MalformedBody("alerts", NESTED_TOO_DEEPLY) from None


def _problem(labels: dict[str, Any], annotations: dict[str, Any]) -> tuple[str, str] | None:
    """The first invalid name or value among labels and annotations, as (field, detail)."""
    for kind, pairs in (("labels", labels), ("annotations", annotations)):
        for name, value in pairs.items():
            if _LABEL_NAME.fullmatch(name) is None:
                return f"{kind}.{name}", f"invalid name {name!r}"
            if not isinstance(value, str):
                return f"{kind}.{name}", f"expected a string, got {type(value).__name__}"
    if not any(labels.values()):
        return "labels", "at least one label pair required"
    return None


def _time(at: datetime | None, field: str) -> datetime | None:
    """The time, or None when absent or Go's zero time; a naive time is refused."""
    if at is None or at == GO_ZERO_TIME:
        return None
    if at.tzinfo is None:
        raise _Refused(field, "needs a time zone (RFC 3339)")
    return at


class _Refused(Exception):
    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


def _grouped(item: PostableAlert, now: datetime, timeout: timedelta) -> GroupedAlert:
    """One valid alert as the grouper holds it; _Refused names the field when it is not."""
    starts_at = _time(item.starts_at, "startsAt")
    ends_at = _time(item.ends_at, "endsAt")
    invalid = _problem(item.labels, item.annotations)
    if invalid is not None:
        raise _Refused(*invalid)
    labels: dict[str, str] = {name: value for name, value in item.labels.items() if value}
    starts_at = starts_at or ends_at or now
    # No end given: the alert fires until resolve_timeout passes without it being re-posted.
    expires_at = ends_at or now + timeout
    if expires_at < starts_at:
        raise _Refused("endsAt", "start time must be before end time")
    is_firing = expires_at > now
    alert = Alert(
        fingerprint=fingerprint(labels),
        labels=labels,
        state=AlertState.FIRING if is_firing else AlertState.RESOLVED,
        value=None,
        active_since=starts_at,
        started_at=starts_at,
        resolved_at=None if is_firing else expires_at,
    )
    return GroupedAlert(
        POSTED_RULE_PREFIX + labels.get("alertname", ""),
        alert,
        item.annotations,
        generator_url=item.generator_url,
        expires_at=expires_at if is_firing else None,
    )


def to_grouped(posted: list[PostableAlert], now: datetime, resolve_timeout_s: float) -> PostedBatch:
    """Validate each alert and build what the grouper holds; resolved when endsAt has passed."""
    alerts: list[GroupedAlert] = []
    problems: list[AlertProblem] = []
    timeout = timedelta(seconds=resolve_timeout_s)
    for index, item in enumerate(posted):
        try:
            alerts.append(_grouped(item, now, timeout))
        except _Refused as refused:
            problems.append(AlertProblem(f"alerts[{index}].{refused.field}", refused.detail))
    firing = sum(grouped.is_firing for grouped in alerts)
    return PostedBatch(alerts, problems, firing, len(alerts) - firing)
