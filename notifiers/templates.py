"""Message bodies from Jinja2 templates per channel and format, overridable from config."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from notifiers.base import AlertSummary, Notification
from notifiers.markdown import escape_markdown

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


# Rendered into DingTalk/WeCom markdown: their values are escaped.
MARKDOWN_TEMPLATES: Final = frozenset({"markdown"})


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


# What an override is tried on at load, so a wrong variable fails there and not at 3 a.m.
_SAMPLE: Final = Notification(
    receiver="sample",
    group_key='{}:{alertname="Sample"}',
    status="firing",
    alerts=[
        AlertSummary(
            "0" * 16,
            "firing",
            {"alertname": "Sample", "severity": "warning"},
            {"summary": "sample", "description": "sample"},
            datetime(2026, 1, 1, tzinfo=UTC),
        )
    ],
    common_labels={"alertname": "Sample", "severity": "warning"},
    common_annotations={"summary": "sample"},
)


def template_problem(name: str, source: str) -> str | None:
    """Why `source` cannot serve as template `name` (syntax, unknown variable), or None."""
    try:
        Templates({name: source}).render(name, _SAMPLE)
    except jinja2.TemplateSyntaxError as exc:
        return f"template {name!r} does not compile: {exc.message} (template line {exc.lineno})"
    except jinja2.TemplateError as exc:
        return f"template {name!r} fails on a sample alert: {exc.message}"
    return None


class Templates:
    """The default templates with `overrides` (name → Jinja2 source) on top, compiled once.

    Templates run in Jinja's sandbox: an override cannot reach Python internals (a
    `__class__`, a method that changes state). In the markdown template every `{{ … }}` value is
    escaped for markdown (notifiers/markdown.py); markup belongs in the template text itself.
    """

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        sources = {**DEFAULT_TEMPLATES, **(overrides or {})}
        # StrictUndefined: a typo in an override fails at the first render, not silently empty.
        plain = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
        markdown = ImmutableSandboxedEnvironment(
            undefined=jinja2.StrictUndefined, autoescape=False, finalize=escape_markdown
        )
        self._compiled = {
            name: (markdown if name in MARKDOWN_TEMPLATES else plain).from_string(source)
            for name, source in sources.items()
        }

    def render(self, name: str, notification: Notification, **extra: Any) -> str:
        context = {
            "n": notification,
            "summary": summary_of(notification),
            "severity": severity_of(notification),
            **extra,
        }
        return self._compiled[name].render(context).strip()


default_templates = Templates()
