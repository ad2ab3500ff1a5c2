"""Message bodies from Jinja2 templates per channel and format, overridable from config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import jinja2

from notifiers.base import Notification

# `markdown`: DingTalk and WeCom markdown; `text`: plain text (WeCom text, WeCom app); `title`:
# the chat-list line; `speech`: what a voice call reads out; `sms`: the alert SMS `summary`.
DEFAULT_TEMPLATES: Final[dict[str, str]] = {
    "title": (
        "{% if n.is_test %}[TEST] {% endif %}[{{ n.status | upper }}{% if severity %}:"
        "{{ severity }}{% endif %}] {{ summary }}"
    ),
    "markdown": (
        "### {% if n.is_test %}[TEST] {% endif %}[{{ n.status | upper }}"
        "{% if severity %}:{{ severity }}{% endif %}] {{ summary }}\n"
        "{% for a in n.alerts %}\n"
        "- **{{ a.status }}** {{ a.labels.get('alertname', '') }}"
        "{% for k, v in a.labels | dictsort %}{% if k != 'alertname' %} {{ k }}={{ v }}"
        "{% endif %}{% endfor %}"
        "{% if a.annotations.get('description') %}: {{ a.annotations['description'] }}"
        "{% endif %} (since {{ a.starts_at.strftime('%Y-%m-%d %H:%M:%S') }} UTC)\n"
        "{% endfor %}"
    ),
    "text": (
        "{% if n.is_test %}[TEST] {% endif %}[{{ n.status | upper }}"
        "{% if severity %}:{{ severity }}{% endif %}] {{ summary }}\n"
        "{% for a in n.alerts %}"
        "- {{ a.status }} {{ a.labels.get('alertname', '') }}"
        "{% for k, v in a.labels | dictsort %}{% if k != 'alertname' %} {{ k }}={{ v }}"
        "{% endif %}{% endfor %}\n"
        "{% endfor %}"
    ),
    "speech": (
        "{% if n.status == 'resolved' %}已恢复{% else %}告警{% endif %}，{{ severity }}，"
        "{{ summary }}，共{{ n.alerts | length }}条"
    ),
    "sms": "{% if n.is_test %}[TEST] {% endif %}{{ summary }} ({{ n.alerts | length }})",
}


def summary_of(notification: Notification) -> str:
    """One line naming the group: its `summary` annotation, else its alert name, else its key."""
    summary = notification.common_annotations.get("summary")
    if summary:
        return summary
    for labels in (notification.group_labels, notification.common_labels):
        if "alertname" in labels:
            return labels["alertname"]
    if notification.alerts and "alertname" in notification.alerts[0].labels:
        return notification.alerts[0].labels["alertname"]
    return notification.group_key


def severity_of(notification: Notification) -> str:
    return notification.severity or notification.common_labels.get("severity", "")


class Templates:
    """The default templates with `overrides` (name → Jinja2 source) on top, compiled once."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        sources = {**DEFAULT_TEMPLATES, **(overrides or {})}
        # StrictUndefined: a typo in an override fails at the first render, not silently empty.
        environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
        self._compiled = {name: environment.from_string(src) for name, src in sources.items()}

    def render(self, name: str, notification: Notification, **extra: Any) -> str:
        context = {
            "n": notification,
            "summary": summary_of(notification),
            "severity": severity_of(notification),
            **extra,
        }
        return self._compiled[name].render(context).strip()


default_templates = Templates()
