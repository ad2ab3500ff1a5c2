"""alerting.yaml loads Alertmanager files unchanged, keeps our extensions, and names bad lines."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from controlplane.alerting.config import (
    DingTalkConfig,
    SmsConfig,
    VoiceConfig,
    WebhookConfig,
    WeComAppConfig,
    WeComConfig,
    alerting_check_command,
    load_alerting_config,
    parse_alerting_config,
)
from smsplatform.config.yamlsource import ConfigError

EXAMPLE = Path(__file__).with_name("alertmanager_example.yml")

OURS = """\
route:
  receiver: sms-team
  group_by: [alertname, supplier]
  escalation: sms-page
  routes:
    - matchers: ['severity="info"']
      receiver: chat-only
receivers:
  - name: sms-team
    dingtalk_configs:
      - webhook_url: https://oapi.dingtalk.com/robot/send?access_token=abc
        secret: SECxyz
        keywords: [告警]
        at_mobiles: ['13800138000']
    sms_configs:
      - to: ['oncall:primary@sms-team', '+8613900139000']
    wecom_configs:
      - webhook_url: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k
        mentioned_mobiles: ['@all']
    webhook_configs:
      - url: http://127.0.0.1:9/hook
  - name: chat-only
    wecom_app_configs:
      - {corp_id: ww1, corp_secret: s, agent_id: 1000002, to_user: 'zhang|li'}
  - name: phone-primary
    voice_configs:
      - to: ['oncall:primary@sms-team']
        tts_code: TTS_100001
escalations:
  - name: sms-page
    steps:
      - {after: 0s, receivers: [sms-team]}
      - {after: 10m, receivers: [phone-primary]}
oncall:
  schedules:
    - name: sms-team
      time_zone: Asia/Shanghai
      layers:
        - name: primary
          rotation: weekly
          start: 2026-01-05
          members: [{name: zhang, phone: '+8613800138000'}]
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_alerting_config(text, "alerting.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_alertmanager_file_loads_unchanged_with_its_routes_and_rules() -> None:
    config = load_alerting_config(EXAMPLE)
    assert config.resolve_timeout_s == 300
    assert sorted(config.receivers) == sorted(
        ["default-webhook", "pager", "team-x-mails", "team-x-pager", "team-y-mails",
         "team-y-pager", "team-db-pager", "sms-oncall", "supplier-desk", "sms-voice", "sms-chat"]
    )  # fmt: skip
    assert len(list(config.route.walk())) == 13
    assert len(config.inhibit_rules) == 2
    hook = config.receivers["sms-chat"].channels[0].config
    assert hook == WebhookConfig(url="http://127.0.0.1:5002/chat", max_alerts=20)
    assert config.receivers["sms-oncall"].channels[0].config.send_resolved is False


def test_unsupported_integrations_and_ignored_settings_are_reported_by_check() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert alerting_check_command(EXAMPLE, stdout=out, stderr=err) == 0
    printed = out.getvalue()
    assert f"warning: {EXAMPLE}:84: receivers.1.pagerduty_configs: receiver 'pager': " in printed
    for integration in ("email_configs", "slack_configs", "wechat_configs"):
        assert f"integration {integration} is not supported" in printed
    assert "templates: Alertmanager templates are ignored" in printed
    assert "smtp_smarthost, smtp_from" in printed
    assert "match_re` is deprecated" in printed
    assert printed.splitlines()[-1].startswith(f"SUCCESS: {EXAMPLE}: 11 receiver(s), 13 route(s)")
    assert err.getvalue() == ""
    assert config_warnings_count(printed) == 14


def config_warnings_count(printed: str) -> int:
    return sum(1 for line in printed.splitlines() if line.startswith("warning: "))


def test_receiver_channels_keep_file_order_for_fallback() -> None:
    config = parse_alerting_config(OURS)
    channels = config.receivers["sms-team"].channels
    assert [channel.channel for channel in channels] == ["dingtalk", "sms", "wecom", "webhook"]
    assert channels[0].config == DingTalkConfig(
        webhook_url="https://oapi.dingtalk.com/robot/send?access_token=abc",
        secret="SECxyz",
        keywords=("告警",),
        at_mobiles=("13800138000",),
    )
    assert channels[1].config == SmsConfig(to=("oncall:primary@sms-team", "+8613900139000"))
    assert isinstance(channels[2].config, WeComConfig)
    assert config.receivers["chat-only"].channels[0].config == WeComAppConfig(
        "ww1", "s", 1000002, "zhang|li"
    )
    voice = config.receivers["phone-primary"].channels[0].config
    assert voice == VoiceConfig(("oncall:primary@sms-team",), "TTS_100001")


def test_escalations_and_oncall_load_and_routes_inherit_the_escalation() -> None:
    config = parse_alerting_config(OURS)
    steps = config.escalations["sms-page"].steps
    assert [(step.after_s, step.receivers) for step in steps] == [
        (0.0, ("sms-team",)),
        (600.0, ("phone-primary",)),
    ]
    [info] = config.route.match({"severity": "info"})
    assert (info.receiver, info.options.escalation) == ("chat-only", "sms-page")
    schedule = config.oncall.schedules["sms-team"]
    assert [(layer.name, str(layer.time_zone)) for layer in schedule.layers] == [
        ("primary", "Asia/Shanghai")
    ]


def test_unknown_keys_are_errors_with_file_line_and_field() -> None:
    text = "route:\n  receiver: a\n  group_wiat: 30s\nreceivers:\n  - name: a\n"
    assert _problems(text) == [
        "alerting.yaml:3: route.group_wiat: unknown key in route (known: active_time_intervals, "
        "continue, escalation, group_by, group_interval, group_wait, match, match_re, matchers, "
        "mute_time_intervals, receiver, repeat_interval, routes)"
    ]


def test_every_problem_in_a_file_is_reported_with_its_line() -> None:
    text = """\
route:
  receiver: missing
  routes:
    - matchers: ['severity=="x"']
      receiver: a
      group_interval: 0s
    - matchers: ['team="sms"']
      receiver: a
      mute_time_intervals: [nights]
      escalation: nowhere
      group_by: ['...', alertname]
receivers:
  - name: a
    sms_configs:
      - to: ['oncall:primary@nobody', 'not-a-phone']
  - name: a
    dingtalk_configs:
      - secret: SEC1
"""
    assert _problems(text) == [
        "alerting.yaml:15: receivers.0.sms_configs.0.to.1: 'not-a-phone' is not a phone number",
        "alerting.yaml:18: receivers.1.dingtalk_configs.0: `webhook_url` is required",
        "alerting.yaml:16: receivers.1.name: receiver name 'a' is not unique",
        "alerting.yaml:6: route.routes.0.group_interval: group_interval cannot be zero",
        "alerting.yaml:4: route.routes.0.matchers.0: matcher value contains unescaped double "
        'quote: ="x"',
        "alerting.yaml:11: route.routes.1.group_by: cannot have wildcard group_by (`...`) and "
        "other labels at once",
        "alerting.yaml:2: route.receiver: undefined receiver 'missing' used in route",
        "alerting.yaml:10: route.routes.1.escalation: undefined escalation 'nowhere' used in route",
        "alerting.yaml:9: route.routes.1.mute_time_intervals: undefined time interval 'nights' "
        "used in route",
        "alerting.yaml:15: receivers.a.sms: unknown on-call schedule 'nobody'",
    ]


def test_root_route_needs_a_receiver_and_no_matchers() -> None:
    text = "route:\n  matchers: [a=b]\nreceivers: []\n"
    assert _problems(text) == [
        "alerting.yaml:1: route: root route must specify a default receiver",
        "alerting.yaml:1: route: root route must not have any matchers",
    ]


def test_escalation_steps_must_name_known_receivers_in_order() -> None:
    text = """\
route: {receiver: a}
receivers: [{name: a}]
escalations:
  - name: e
    steps:
      - {after: 5m, receivers: [a]}
      - {after: 1m, receivers: [b]}
"""
    assert _problems(text) == [
        "alerting.yaml:7: escalations.0.steps.1.after: steps must be in order of `after`",
        "alerting.yaml:7: escalations.0.steps.1.receivers: undefined receiver 'b' used in "
        "escalation",
    ]


def test_check_command_prints_problems_and_fails(tmp_path: Path) -> None:
    path = tmp_path / "alerting.yaml"
    path.write_text("route:\n  receiver: a\nreceivers:\n  - name: b\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert alerting_check_command(path, stdout=out, stderr=err) == 1
    assert err.getvalue() == f"{path}:2: route.receiver: undefined receiver 'a' used in route\n"
    assert out.getvalue() == f"FAILED: 1 problem(s) in {path}\n"


def test_invalid_yaml_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "alerting.yaml"
    path.write_text("route:\n  receiver: [a\nreceivers: []\n", encoding="utf-8")
    err = io.StringIO()
    assert alerting_check_command(path, stdout=io.StringIO(), stderr=err) == 1
    assert err.getvalue().startswith(f"{path}:3: invalid YAML")


def test_a_broken_schedule_is_reported_at_its_line_and_not_again_at_its_targets() -> None:
    broken = OURS.replace("          start: 2026-01-05\n", "")
    assert _problems(broken) == [
        "alerting.yaml:39: oncall.schedules.0.layers.0.start: required, a date YYYY-MM-DD"
    ]


def test_a_template_that_reaches_python_internals_is_refused_at_load() -> None:
    text = OURS + 'templates:\n  text: "{{ n.__class__.__init__.__globals__ }}"\n'

    problems = _problems(text)

    assert len(problems) == 1
    assert problems[0].startswith("alerting.yaml:")
    assert "templates.text" in problems[0] and "unsafe" in problems[0]


def test_a_malformed_webhook_url_is_refused_without_echoing_its_secret() -> None:
    text = OURS.replace(
        "receivers:\n",
        "receivers:\n  - name: hook\n    webhook_configs:\n"
        "      - url: ftp://hooks.example/T0/B0/secretpath?key=secretkey\n",
        1,
    )

    problems = _problems(text)

    assert any("webhook_configs" in problem and "http(s)" in problem for problem in problems)
    assert not any("secret" in problem for problem in problems)
