"""On-call schedules: rotations hand off at local times, layers stack, overrides stand in."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from controlplane.alerting.config import parse_alerting_config
from controlplane.alerting.oncall import (
    Layer,
    Member,
    OnCall,
    Override,
    Rotation,
    Schedule,
    UnknownTarget,
)
from smsplatform.config.yamlsource import ConfigError

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
ALICE, BOB, CAROL, DAVE = (
    Member("alice", "+8613800000001"),
    Member("bob", "+8613800000002"),
    Member("carol", "+8613800000003"),
    Member("dave", "+8613800000004"),
)


def local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc,arg-type]


def daily(start: date, members: tuple[Member, ...], **kwargs: object) -> Layer:
    return Layer(
        name=str(kwargs.pop("name", "primary")),
        rotation=Rotation.DAILY,
        handoff=time(9, 0),
        time_zone=SHANGHAI,
        start=start,
        members=members,
        **kwargs,  # type: ignore[arg-type]
    )


def test_daily_rotation_hands_off_at_nine_local_time_and_wraps_around() -> None:
    layer = daily(date(2026, 3, 2), (ALICE, BOB, CAROL))
    assert layer.member_at(local(SHANGHAI, 2026, 3, 2, 9, 0)) == ALICE
    assert layer.member_at(local(SHANGHAI, 2026, 3, 3, 8, 59)) == ALICE
    assert layer.member_at(local(SHANGHAI, 2026, 3, 3, 9, 0)) == BOB
    assert layer.member_at(local(SHANGHAI, 2026, 3, 4, 23, 0)) == CAROL
    assert layer.member_at(local(SHANGHAI, 2026, 3, 5, 9, 0)) == ALICE
    # The same instant given in UTC: 01:00 UTC is 09:00 in Shanghai.
    assert layer.member_at(datetime(2026, 3, 3, 1, 0, tzinfo=UTC)) == BOB
    assert layer.member_at(datetime(2026, 3, 3, 0, 59, tzinfo=UTC)) == ALICE


def test_nobody_is_on_call_before_the_layer_starts() -> None:
    layer = daily(date(2026, 3, 2), (ALICE, BOB))
    assert layer.member_at(local(SHANGHAI, 2026, 3, 2, 8, 59)) is None


def test_weekly_rotation_hands_off_on_monday_across_a_daylight_saving_change() -> None:
    # Starts on a Wednesday; DST begins in New York on Sunday 2026-03-08.
    layer = Layer(
        name="primary",
        rotation=Rotation.WEEKLY,
        handoff=time(10, 0),
        time_zone=NEW_YORK,
        start=date(2026, 3, 4),
        members=(ALICE, BOB),
        handoff_weekday=0,
    )
    assert layer.member_at(local(NEW_YORK, 2026, 3, 4, 10, 0)) == ALICE
    assert layer.member_at(local(NEW_YORK, 2026, 3, 9, 9, 59)) == ALICE
    assert layer.member_at(local(NEW_YORK, 2026, 3, 9, 10, 0)) == BOB
    # 10:00 EDT is 14:00 UTC after the change (it was 15:00 UTC before).
    assert layer.member_at(datetime(2026, 3, 9, 14, 0, tzinfo=UTC)) == BOB
    assert layer.member_at(datetime(2026, 3, 9, 13, 59, tzinfo=UTC)) == ALICE
    assert layer.member_at(local(NEW_YORK, 2026, 3, 16, 10, 0)) == ALICE
    assert layer.member_at(local(NEW_YORK, 2026, 3, 23, 9, 0)) == ALICE
    assert layer.member_at(local(NEW_YORK, 2026, 3, 23, 10, 0)) == BOB


def test_a_higher_layer_overrides_lower_ones_only_while_it_has_a_member() -> None:
    base = daily(date(2026, 3, 1), (ALICE, BOB))
    holiday_cover = daily(date(2026, 3, 10), (DAVE,), end=date(2026, 3, 12))
    schedule = Schedule("sms-team", (base, holiday_cover))
    assert schedule.member_at("primary", local(SHANGHAI, 2026, 3, 10, 8, 0)) == ALICE
    assert schedule.member_at("primary", local(SHANGHAI, 2026, 3, 10, 9, 0)) == DAVE
    assert schedule.member_at("primary", local(SHANGHAI, 2026, 3, 12, 8, 59)) == DAVE
    assert schedule.member_at("primary", local(SHANGHAI, 2026, 3, 12, 9, 0)) == BOB


def test_an_override_replaces_the_layer_member_for_its_time_only() -> None:
    start = local(SHANGHAI, 2026, 3, 3, 12, 0)
    override = Override("primary", CAROL, start, start + timedelta(hours=6))
    schedule = Schedule("sms-team", (daily(date(2026, 3, 2), (ALICE, BOB)),), (override,))
    oncall = OnCall({"sms-team": schedule})
    assert oncall.resolve("oncall:primary@sms-team", start - timedelta(seconds=1)) == BOB
    assert oncall.resolve("oncall:primary@sms-team", start) == CAROL
    assert oncall.resolve("primary@sms-team", start + timedelta(hours=6)) == BOB


def test_unknown_schedules_and_layers_are_refused() -> None:
    oncall = OnCall({"sms-team": Schedule("sms-team", (daily(date(2026, 3, 2), (ALICE,)),))})
    with pytest.raises(UnknownTarget, match="no on-call schedule named 'db-team'"):
        oncall.resolve("oncall:primary@db-team", datetime(2026, 3, 3, tzinfo=UTC))
    with pytest.raises(UnknownTarget, match="no layer named 'secondary'"):
        oncall.check("oncall:secondary@sms-team")


ALERTING_YAML = """\
route:
  receiver: ops
oncall:
  schedules:
    sms-team:
      time_zone: Asia/Shanghai
      layers:
        - name: primary
          rotation: weekly
          handoff_time: "09:00"
          handoff_day: monday
          start: 2026-03-02
          members:
            - {name: alice, phone: "+8613800000001"}
            - {name: bob, phone: "+8613800000002"}
        - name: secondary
          rotation: daily
          handoff_time: 10:00
          time_zone: Europe/Berlin
          start: 2026-03-02
          members:
            - {name: carol, phone: "+8613800000003"}
            - {name: dave, phone: "+8613800000004"}
      overrides:
        - layer: primary
          start: 2026-03-04T18:00:00+08:00
          end: 2026-03-05T09:00:00+08:00
          member: {name: dave, phone: "+8613800000004"}
receivers:
  - name: ops
"""


def test_schedules_load_once_with_alerting_yaml_and_resolve_targets() -> None:
    oncall = parse_alerting_config(ALERTING_YAML, "alerting.yaml").oncall
    assert oncall.resolve("oncall:primary@sms-team", local(SHANGHAI, 2026, 3, 9, 8, 0)) == ALICE
    assert oncall.resolve("oncall:primary@sms-team", local(SHANGHAI, 2026, 3, 9, 9, 0)) == BOB
    assert oncall.resolve("oncall:primary@sms-team", local(SHANGHAI, 2026, 3, 4, 20, 0)) == DAVE
    berlin = ZoneInfo("Europe/Berlin")
    assert oncall.resolve("oncall:secondary@sms-team", local(berlin, 2026, 3, 3, 9, 59)) == CAROL
    assert oncall.resolve("oncall:secondary@sms-team", local(berlin, 2026, 3, 3, 10, 0)) == DAVE


def test_schedule_errors_name_file_line_and_field() -> None:
    broken = (
        ALERTING_YAML.replace("rotation: weekly", "rotation: fortnightly")
        .replace("time_zone: Europe/Berlin", "time_zone: Mars/Olympus")
        .replace("layer: primary\n", "layer: tertiary\n")
    )
    with pytest.raises(ConfigError) as caught:
        parse_alerting_config(broken, "alerting.yaml")
    messages = [str(problem) for problem in caught.value.problems]
    assert any(
        m.startswith("alerting.yaml:9: oncall.schedules.sms-team.layers.0.rotation:")
        and "daily or weekly" in m
        for m in messages
    ), messages
    assert any(
        m.startswith("alerting.yaml:19: oncall.schedules.sms-team.layers.1.time_zone:")
        for m in messages
    ), messages
    assert any(
        m.startswith("alerting.yaml:25: oncall.schedules.sms-team.overrides.0.layer:")
        and "tertiary" in m
        for m in messages
    ), messages
