"""Time intervals mute and activate routes at the right instants; child routes inherit settings."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from controlplane.alerting.config import parse_alerting_config
from smsplatform.config.yamlsource import ConfigError

SHANGHAI = ZoneInfo("Asia/Shanghai")

CONFIG = """\
route:
  receiver: root
  group_by: [alertname]
  group_wait: 10s
  repeat_interval: 1h
  routes:
    - matchers: ['team="sms"']
      receiver: sms
      group_interval: 2m
      mute_time_intervals: [offhours]
      routes:
        - matchers: ['severity="critical"']
          group_wait: 0s
          routes:
            - matchers: ['supplier=~".+"']
              group_by: ['...']
              routes:
                - matchers: ['code!=""']
                  group_by: []
                - matchers: ['region!=""']
                  group_by: [region]
    - matchers: ['team="billing"']
      receiver: billing
      active_time_intervals: [business-hours]
receivers: [{name: root}, {name: sms}, {name: billing}]
time_intervals:
  - name: offhours
    time_intervals:
      - times: [{start_time: '00:00', end_time: '08:00'}]
        weekdays: ['monday:friday']
        location: Asia/Shanghai
      - weekdays: [saturday, sunday]
        location: Asia/Shanghai
  - name: business-hours
    time_intervals:
      - times: [{start_time: '09:00', end_time: '24:00'}]
        weekdays: ['Monday:Friday']
  - name: month-end
    time_intervals:
      - days_of_month: ['-3:-1']
        months: ['january:march', '12']
        years: ['2024:2025']
"""


def _local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


def test_offhours_are_read_in_their_location() -> None:
    offhours = parse_alerting_config(CONFIG).time_intervals["offhours"]
    # Monday 2024-01-08 07:59 in Shanghai is still Sunday in UTC: the location decides.
    assert offhours.contains(_local(2024, 1, 8, 7, 59)) is True
    assert offhours.contains(_local(2024, 1, 8, 8, 0)) is False
    assert offhours.contains(_local(2024, 1, 13, 12, 0)) is True  # Saturday
    assert offhours.contains(datetime(2024, 1, 12, 16, 30, tzinfo=UTC)) is True  # Sat 00:30 CST


def test_day_ranges_count_from_the_end_of_each_month() -> None:
    month_end = parse_alerting_config(CONFIG).time_intervals["month-end"]
    assert month_end.contains(datetime(2024, 2, 27, tzinfo=UTC)) is True  # leap February
    assert month_end.contains(datetime(2024, 2, 26, tzinfo=UTC)) is False
    assert month_end.contains(datetime(2024, 1, 29, tzinfo=UTC)) is True
    assert month_end.contains(datetime(2024, 4, 30, tzinfo=UTC)) is False  # April not listed
    assert month_end.contains(datetime(2025, 12, 31, 23, 59, tzinfo=UTC)) is True
    assert month_end.contains(datetime(2026, 1, 31, tzinfo=UTC)) is False  # past the years


def test_a_muted_route_is_muted_only_inside_its_interval() -> None:
    config = parse_alerting_config(CONFIG)
    [sms] = config.route.match({"team": "sms"})
    assert config.is_muted(sms, _local(2024, 1, 13, 12, 0)) is True
    assert config.is_muted(sms, _local(2024, 1, 10, 12, 0)) is False


def test_an_active_interval_route_is_muted_outside_it() -> None:
    config = parse_alerting_config(CONFIG)
    [billing] = config.route.match({"team": "billing"})
    assert config.is_muted(billing, datetime(2024, 1, 10, 23, 59, tzinfo=UTC)) is False
    assert config.is_muted(billing, datetime(2024, 1, 10, 8, 59, tzinfo=UTC)) is True
    assert config.is_muted(billing, datetime(2024, 1, 13, 12, 0, tzinfo=UTC)) is True


def test_children_inherit_receiver_grouping_and_timings_but_not_mute_intervals() -> None:
    config = parse_alerting_config(CONFIG)
    [critical] = config.route.match({"team": "sms", "severity": "critical"})
    options = critical.options
    assert options.receiver == "sms"
    assert options.group_by == frozenset({"alertname"})
    assert (options.group_wait_s, options.group_interval_s, options.repeat_interval_s) == (
        0.0,
        120.0,
        3600.0,
    )
    # As in Alertmanager: each node names its own mute intervals.
    assert options.mute_time_intervals == ()


def test_group_by_all_is_inherited_until_a_child_names_labels() -> None:
    config = parse_alerting_config(CONFIG)
    labels = {"team": "sms", "severity": "critical", "supplier": "aliyun", "alertname": "Down"}
    [by_all] = config.route.match(labels)
    assert by_all.group_labels(labels) == labels
    [empty_list] = config.route.match({**labels, "code": "500"})
    assert empty_list.options.group_by_all is True  # `group_by: []` changes nothing
    [by_region] = config.route.match({**labels, "region": "cn"})
    assert by_region.group_labels({**labels, "region": "cn"}) == {"region": "cn"}


def test_root_defaults_are_alertmanagers() -> None:
    config = parse_alerting_config("route: {receiver: r}\nreceivers: [{name: r}]\n")
    options = config.route.options
    assert (options.group_wait_s, options.group_interval_s, options.repeat_interval_s) == (
        30.0,
        300.0,
        14400.0,
    )
    assert config.route.group_key({"alertname": "Test", "x": "1"}) == "{}:{}"


@pytest.mark.parametrize(
    ("interval", "problem"),
    [
        (
            "times: [{start_time: '09:00', end_time: '09:00'}]",
            "time_intervals.0.time_intervals.0.times.0: start_time must be before end_time",
        ),
        (
            "times: [{start_time: '9am', end_time: '10:00'}]",
            "time_intervals.0.time_intervals.0.times.0.start_time: '9am' is not a time of day "
            "HH:MM (00:00 to 24:00)",
        ),
        (
            "weekdays: ['friday:monday']",
            "time_intervals.0.time_intervals.0.weekdays.0: range 'friday:monday' starts after "
            "it ends",
        ),
        (
            "weekdays: [funday]",
            "time_intervals.0.time_intervals.0.weekdays.0: 'funday' is not a weekday "
            "(sunday … saturday)",
        ),
        (
            "days_of_month: ['0']",
            "time_intervals.0.time_intervals.0.days_of_month.0: day of month 0 is not between "
            "1 and 31 (or -31 and -1)",
        ),
        (
            "location: Mars/Olympus",
            "time_intervals.0.time_intervals.0.location: unknown time zone 'Mars/Olympus'",
        ),
    ],
)
def test_bad_time_intervals_name_their_line_and_field(interval: str, problem: str) -> None:
    text = (
        "route: {receiver: r}\nreceivers: [{name: r}]\n"
        f"time_intervals:\n  - name: t\n    time_intervals:\n      - {interval}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_alerting_config(text, "alerting.yaml")
    assert [str(found) for found in caught.value.problems] == [f"alerting.yaml:6: {problem}"]
