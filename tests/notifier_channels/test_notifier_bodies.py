"""Message cutting to byte limits, and template overrides."""

from __future__ import annotations

import pytest
from notifier_samples import notification

from notifiers.cut import cut_utf8, fit
from notifiers.templates import Templates


def test_cut_never_splits_a_multibyte_character() -> None:
    assert cut_utf8("告警告警", 7) == "告警"  # 6 bytes; a 7th byte would split the third char
    assert cut_utf8("abc", 10) == "abc"


def test_fit_keeps_the_link_and_marks_the_cut() -> None:
    text = fit("监控" * 1000, 100, "Console: http://c/x")
    assert len(text.encode()) <= 100
    assert text.endswith("…\n\nConsole: http://c/x")


def test_fit_leaves_a_short_body_whole() -> None:
    assert fit("short", 100, "link") == "short\n\nlink"


def test_template_override_replaces_the_default() -> None:
    templates = Templates({"sms": "{{ severity }}/{{ n.receiver }}: {{ summary }}"})
    assert templates.render("sms", notification()) == (
        "critical/sms-team: Delivery rate below 90% on aliyun"
    )


def test_template_override_with_an_unknown_name_fails_loudly() -> None:
    templates = Templates({"sms": "{{ nonsense }}"})
    with pytest.raises(Exception, match="nonsense"):
        templates.render("sms", notification())
