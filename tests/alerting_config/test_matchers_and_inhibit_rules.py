"""Matchers parse and apply as Alertmanager's do; inhibit rules pair sources with targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.alerting.config import (
    Matcher,
    MatcherError,
    MatchOp,
    load_alerting_config,
    parse_matchers,
)

EXAMPLE = Path(__file__).with_name("alertmanager_example.yml")


def test_matcher_strings_in_every_form_parse_to_the_same_matchers() -> None:
    expected = [
        Matcher("team", MatchOp.EQUAL, "sms"),
        Matcher("code", MatchOp.NOT_REGEX, "OK|isv\\..*"),
    ]
    assert parse_matchers('{team="sms", code!~"OK|isv\\\\..*"}') == expected
    assert parse_matchers("team=sms,code!~OK|isv\\..*") == expected


def test_quoted_values_keep_commas_and_escaped_quotes() -> None:
    [matcher] = parse_matchers('summary="a, \\"b\\""')
    assert matcher.value == 'a, "b"'
    assert str(matcher) == 'summary="a, \\"b\\""'


def test_regex_matchers_are_anchored_and_missing_labels_are_empty() -> None:
    [regex] = parse_matchers('supplier=~"ali"')
    assert regex.matches({"supplier": "ali"}) is True
    assert regex.matches({"supplier": "aliyun"}) is False
    [absent] = parse_matchers('env=""')
    assert absent.matches({}) is True
    [not_absent] = parse_matchers('env!=""')
    assert not_absent.matches({}) is False


def test_bad_regex_is_a_matcher_error() -> None:
    with pytest.raises(MatcherError, match="invalid regular expression"):
        parse_matchers('a=~"(unclosed"')


def test_inhibit_rule_needs_source_target_and_equal_labels() -> None:
    [critical_over_warning, down_over_slow] = load_alerting_config(EXAMPLE).inhibit_rules
    source = {"alertname": "Disk", "cluster": "c1", "service": "db", "severity": "critical"}
    target = {**source, "severity": "warning"}
    assert critical_over_warning.inhibits(source, target) is True
    assert critical_over_warning.inhibits(source, {**target, "cluster": "c2"}) is False
    assert critical_over_warning.inhibits(target, source) is False
    down = {"alertname": "SupplierDown", "supplier": "aliyun"}
    assert down_over_slow.inhibits(down, {"alertname": "SupplierSlow", "supplier": "aliyun"})
    assert not down_over_slow.inhibits(down, {"alertname": "SupplierSlowish", "supplier": "aliyun"})
    assert not down_over_slow.inhibits(down, {"alertname": "SupplierErrors", "supplier": "tx"})
