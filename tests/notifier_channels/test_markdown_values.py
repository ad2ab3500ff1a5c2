"""Label values and annotations read literally in DingTalk and WeCom markdown, and templates run
in Jinja's sandbox."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError
from markdown_it import MarkdownIt
from notifier_samples import STARTED, notification

from notifiers.base import AlertSummary
from notifiers.dingtalk import DingTalkConfig, DingTalkNotifier
from notifiers.templates import Templates
from notifiers.wecom import WeComRobotConfig, WeComRobotNotifier

HOSTILE_LABELS = {
    "alertname": "DeliveryRateLow",
    "team": "*x*",
    "tenant": "[click](http://evil)",
    "note": "<@all> ~~gone~~ `code` a|b",
}


def hostile() -> AlertSummary:
    return AlertSummary(
        fingerprint="0123456789abcdef",
        status="firing",
        labels=HOSTILE_LABELS,
        annotations={"description": "see ![img](http://evil/x.png)\n# not a heading"},
        starts_at=STARTED,
    )


def rendered(markdown: str) -> str:
    """The HTML a CommonMark renderer makes of the message."""
    return MarkdownIt("commonmark").enable("strikethrough").render(markdown)


def assert_literal(html: str) -> None:
    assert "*x*" in html and "<em>" not in html
    assert "[click](http://evil)" in html and 'href="http://evil"' not in html
    assert "&lt;@all&gt;" in html and "<del>" not in html and "<code>" not in html
    assert "<img" not in html and "<h1>" not in html


def test_dingtalk_markdown_shows_label_values_as_written() -> None:
    dingtalk = DingTalkNotifier(DingTalkConfig(access_token="t"))
    summary = "**supplier** [down](http://evil)"
    message = notification(
        alerts=[hostile()],
        common_annotations={"summary": summary},
        recipients=(),
        console_url=None,
    )

    text = dingtalk.body(message)["markdown"]["text"]

    html = rendered(text)
    assert_literal(html)
    assert "<h3>" in html  # the template's own markup still works
    assert "**supplier** [down](http://evil)" in html and "<strong>supplier" not in html


def test_wecom_markdown_shows_label_values_as_written() -> None:
    wecom = WeComRobotNotifier(WeComRobotConfig(key="k"))
    message = notification(alerts=[hostile()], recipients=(), console_url=None)

    content = wecom.body(message)["markdown"]["content"]

    assert_literal(rendered(content))


def test_the_plain_text_template_is_not_escaped() -> None:
    text = Templates().render("text", notification(alerts=[hostile()]))
    assert "team=*x*" in text and "tenant=[click](http://evil)" in text


@pytest.mark.parametrize(
    "source",
    [
        "{{ n.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ n.alerts.clear() }}",
    ],
)
def test_a_template_cannot_reach_python_internals(source: str) -> None:
    with pytest.raises(SecurityError):
        Templates({"text": source}).render("text", notification())
