"""Loading rule files: the model a valid file becomes, and every kind of mistake reported with
file, line and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from controlplane.engine.alerts import NoDataPolicy
from controlplane.engine.rules import (
    DEFAULT_INTERVAL_S,
    AlertRule,
    RecordingRule,
    TemplateContext,
    load_rule_file,
    load_rule_paths,
    load_rules_text,
    rule_files,
)
from smsplatform.config.yamlsource import ConfigError

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"


def problems(text: str) -> list[str]:
    """Each problem of a rule file as `rules.yaml:LINE: KEY: MESSAGE`."""
    with pytest.raises(ConfigError) as failure:
        load_rules_text(textwrap.dedent(text).lstrip("\n"), "rules.yaml")
    return [str(problem) for problem in failure.value.problems]


def one_problem(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


ISSUE_EXAMPLE = """
groups:
  - name: supplier-delivery
    interval: 5s
    rules:
      - alert: SupplierDeliveryRateLow
        source: receipts              # receipts | submits | supplier_logs | probes | prometheus
        filter: message_class != "marketing"     # CEL over the event, optional
        by: [supplier, carrier]
        window: 2m
        when: delivery_rate < 0.90 && total >= 200   # CEL over the window's aggregates
        for: 30s
        keep_firing_for: 2m
        labels: {severity: critical}
        annotations:
          summary: "{{ labels.supplier }} to {{ labels.carrier }}: delivery {{ value | percent }}"
      - alert: SendApiErrors
        source: prometheus
        expr: sum(rate(smsctl_api_requests_total{code=~"5.."}[1m])) > 1
        for: 1m
"""


def test_the_issue_example_loads_into_compiled_rules() -> None:
    (group,) = load_rules_text(ISSUE_EXAMPLE.lstrip("\n"), "rules.yaml")
    assert (group.name, group.interval_s, group.line) == ("supplier-delivery", 5.0, 2)
    stream_rule, promql_rule = group.rules
    assert isinstance(stream_rule, AlertRule) and isinstance(promql_rule, AlertRule)
    assert stream_rule.stream is not None and stream_rule.when is not None
    assert stream_rule.stream.source == "receipts"
    assert stream_rule.stream.by == ("supplier", "carrier")
    assert stream_rule.stream.window_s == 120.0
    assert stream_rule.stream.filter is not None
    assert stream_rule.stream.filter.evaluate({"message_class": "otp"}) is True
    assert stream_rule.when.evaluate({"delivery_rate": 0.8, "total": 500}) is True
    assert stream_rule.value is not None and stream_rule.value.source == "delivery_rate"
    assert (stream_rule.for_s, stream_rule.keep_firing_for_s) == (30.0, 120.0)
    assert stream_rule.on_no_data is NoDataPolicy.OK
    assert stream_rule.timing.for_s == 30.0
    assert stream_rule.origin.line == 5 and stream_rule.origin.group == "supplier-delivery"
    summary = stream_rule.annotations["summary"].render(
        TemplateContext(labels={"supplier": "aliyun", "carrier": "cmcc"}, value=0.8512)
    )
    assert summary == "aliyun to cmcc: delivery 85.12%"
    assert stream_rule.labels["severity"].render(TemplateContext(labels={})) == "critical"
    assert promql_rule.is_promql and promql_rule.source == "prometheus"
    assert promql_rule.expr == 'sum(rate(smsctl_api_requests_total{code=~"5.."}[1m])) > 1'
    assert promql_rule.for_s == 60.0


def test_a_rule_with_expr_and_no_source_is_a_promql_rule_with_default_interval() -> None:
    (group,) = load_rules_text(
        "groups:\n- name: g\n  rules:\n  - alert: Up\n    expr: up == 0\n", "rules.yaml"
    )
    (rule,) = group.rules
    assert isinstance(rule, AlertRule) and rule.source == "prometheus" and rule.expr == "up == 0"
    assert group.interval_s == DEFAULT_INTERVAL_S == 15.0


def test_an_explicit_value_overrides_the_first_comparison_operand() -> None:
    (group,) = load_rules_text(
        textwrap.dedent("""
        groups:
          - name: g
            rules:
              - alert: Spike
                source: submits
                by: [supplier]
                window: 5m
                when: total >= 100 && error_share.exists(c, error_share[c] >= 0.2)
                value: reject_rate
                on_no_data: keep
        """),
        "rules.yaml",
    )
    (rule,) = group.rules
    assert isinstance(rule, AlertRule) and rule.value is not None
    assert rule.value.source == "reject_rate"
    assert rule.on_no_data is NoDataPolicy.KEEP


def test_a_rule_may_read_another_sources_aggregates_for_the_same_labels() -> None:
    (group,) = load_rules_text(
        textwrap.dedent("""
        groups:
          - name: g
            rules:
              - alert: ReceiptsMissing
                source: submits
                by: [supplier]
                window: 10m
                when: accepted >= 20 && receipts.total == 0
        """),
        "rules.yaml",
    )
    (rule,) = group.rules
    assert isinstance(rule, AlertRule) and rule.stream is not None
    assert rule.stream.joined_sources == ("receipts",)
    assert rule.value is not None and rule.value.source == "accepted"


def test_recording_rules_from_a_window_or_promql() -> None:
    (group,) = load_rules_text(
        textwrap.dedent("""
        groups:
          - name: g
            labels: {team: sms}
            rules:
              - record: smsctl:delivery_rate:5m
                source: receipts
                by: [supplier]
                window: 5m
                value: delivery_rate
                labels: {tier: core}
              - record: job:up:sum
                expr: sum by (job) (up)
        """),
        "rules.yaml",
    )
    stream_record, promql_record = group.rules
    assert isinstance(stream_record, RecordingRule) and isinstance(promql_record, RecordingRule)
    assert stream_record.name == "smsctl:delivery_rate:5m" and not stream_record.is_promql
    assert stream_record.value is not None and stream_record.value.source == "delivery_rate"
    assert stream_record.labels == {"team": "sms", "tier": "core"}
    assert promql_record.expr == "sum by (job) (up)" and promql_record.is_promql
    assert group.recording_rules == (stream_record, promql_record)


def test_group_labels_apply_to_every_rule_and_rule_labels_win() -> None:
    (group,) = load_rules_text(
        textwrap.dedent("""
        groups:
          - name: g
            labels: {team: sms, severity: info}
            rules:
              - alert: Up
                expr: up == 0
                labels: {severity: page}
        """),
        "rules.yaml",
    )
    (rule,) = group.alert_rules
    rendered = {name: t.render(TemplateContext(labels={})) for name, t in rule.labels.items()}
    assert rendered == {"team": "sms", "severity": "page"}


def test_actions_are_parsed_into_kinds_and_template_parameters() -> None:
    (group,) = load_rules_text(
        textwrap.dedent("""
        groups:
          - name: g
            rules:
              - alert: Collapse
                source: receipts
                by: [supplier, carrier]
                window: 2m
                when: delivery_rate < 0.5
                actions:
                  - cutover: {supplier: "{{ labels.supplier }}", carrier: "{{ labels.carrier }}"}
                  - degrade: {level: sample, sample_ratio: 0.25}
        """),
        "rules.yaml",
    )
    (rule,) = group.alert_rules
    cutover, degrade = rule.actions
    assert (cutover.kind, degrade.kind) == ("cutover", "degrade")
    assert cutover.line == 11  # the text starts with a blank line
    context = TemplateContext(labels={"supplier": "aliyun", "carrier": "cmcc"})
    supplier = cutover.params["supplier"]
    assert not isinstance(supplier, float) and supplier.render(context) == "aliyun"
    assert degrade.params["sample_ratio"] == 0.25


def test_an_empty_file_holds_no_groups() -> None:
    assert load_rules_text("", "rules.yaml") == ()
    assert load_rules_text("groups: []\n", "rules.yaml") == ()


def test_unknown_keys_are_errors_at_their_own_line() -> None:
    found = problems("""
        groups:
          - name: g
            evaluation_interval: 1m
            rules:
              - alert: Up
                expr: up == 0
                severity: page
        rule_files: []
        """)
    assert found[0].startswith("rules.yaml:3: groups.0.evaluation_interval: unknown key in a rule")
    assert found[1].startswith("rules.yaml:7: groups.0.rules.0.severity: unknown key in an alert")
    assert "(known: " in found[1] and "annotations" in found[1]
    assert found[2].startswith("rules.yaml:8: rule_files: unknown key in a rule file")


@pytest.mark.parametrize(
    ("key", "bad", "message"),
    [
        ("for", "30", "30 has no unit"),
        ("for", "1m1h", "is not a duration"),
        ("keep_firing_for", "2 minutes", "is not a duration"),
        ("window", "1.5m", "is not a duration"),
        ("window", "0s", "must be whole seconds, at least 1s"),
        ("window", "1500ms", "must be whole seconds, at least 1s"),
    ],
)
def test_bad_durations_name_line_and_key(key: str, bad: str, message: str) -> None:
    found = one_problem(f"""
        groups:
          - name: g
            rules:
              - alert: Low
                source: receipts
                window: 1m
                when: delivery_rate < 0.9
                {key}: {bad}
        """)
    line = 6 if key == "window" else 8
    assert found.startswith(f"rules.yaml:{line}: groups.0.rules.0.{key}: ")
    assert message in found


def test_a_bad_group_interval_names_its_line() -> None:
    found = one_problem("""
        groups:
          - name: g
            interval: 5 seconds
        """)
    assert found.startswith("rules.yaml:3: groups.0.interval: '5 seconds' is not a duration")


def test_bad_cel_is_reported_with_its_column() -> None:
    found = one_problem("""
        groups:
          - name: g
            rules:
              - alert: Low
                source: receipts
                window: 1m
                when: delivery_rate < 0.9 &&& total > 1
        """)
    assert found.startswith("rules.yaml:7: groups.0.rules.0.when: invalid CEL at line 1, column 23")
    assert "delivery_rate < 0.9 &&& total > 1" in found


def test_unknown_window_variables_are_load_errors() -> None:
    found = one_problem("""
        groups:
          - name: g
            rules:
              - alert: Low
                source: submits
                window: 1m
                when: delivery_rate < 0.9
        """)
    assert found.startswith("rules.yaml:7: groups.0.rules.0.when: unknown variable delivery_rate")
    assert "accept_rate" in found


def test_a_filter_may_read_only_fields_of_its_source() -> None:
    found = one_problem("""
        groups:
          - name: g
            rules:
              - alert: Low
                source: receipts
                filter: phone == "1"
                window: 1m
                when: delivery_rate < 0.9
        """)
    assert found.startswith("rules.yaml:6: groups.0.rules.0.filter: filter reads phone")


def test_by_labels_must_be_labels_of_the_source() -> None:
    found = one_problem("""
        groups:
          - name: g
            rules:
              - alert: Low
                source: supplier_logs
                by: [supplier, carrier]
                window: 1m
                when: error_count > 0
        """)
    assert found.startswith("rules.yaml:6: groups.0.rules.0.by: supplier_logs cannot be grouped")


def test_probe_rules_may_group_by_any_probe_label() -> None:
    (group,) = load_rules_text(
        textwrap.dedent("""
        groups:
          - name: g
            rules:
              - alert: ProbeFailing
                source: probes
                by: [probe, target, region]
                window: 5m
                when: failure_rate > 0.5 && total >= 3
        """),
        "rules.yaml",
    )
    (rule,) = group.alert_rules
    assert rule.stream is not None and rule.stream.by == ("probe", "target", "region")


@pytest.mark.parametrize(
    ("rule", "line", "key", "message"),
    [
        ("source: receiptz|window: 1m|when: total > 0", 5, "source", "unknown source"),
        ("window: 1m|when: total > 0", 4, "", "`source` is required"),
        ("source: receipts|when: total > 0", 4, "", "`window` is required"),
        ("source: receipts|window: 1m", 4, "", "`when` is required"),
        ("source: receipts|window: 1m|when: total > 0|expr: up", 8, "expr", "PromQL"),
        ("source: prometheus|when: up > 0|expr: up", 6, "when", "for stream rules"),
        ("source: prometheus|window: 1m|expr: up", 6, "window", "for stream rules"),
        ("source: prometheus|on_no_data: ok|expr: up", 6, "on_no_data", "for stream rules"),
        ("source: prometheus", 4, "", "`expr` is required"),
        ("expr: sum(rate(x[5m])", 5, "expr", "unclosed `(`"),
        ("expr: up > 0 && down > 0", 5, "expr", "`&&` is CEL, not PromQL: write `and`"),
        (
            "source: receipts|window: 1m|when: total > 0|on_no_data: maybe",
            8,
            "on_no_data",
            "expected one of ok, alerting, keep",
        ),
        (
            "expr: up|annotations: {summary: '{{ range $labels }}x{{ end }}'}",
            6,
            "annotations.summary",
            "`range` has no sandbox equivalent",
        ),
        ("expr: up|labels: {bad-name: x}", 6, "labels.bad-name", "not a valid label name"),
        ("expr: up|labels: {__name__: x}", 6, "labels.__name__", "not a valid label name"),
        (
            "source: submits|by: [supplier]|window: 1m|when: receipts.totl == 0",
            8,
            "when",
            "receipts has no aggregate totl",
        ),
        (
            "source: submits|by: [error_class]|window: 1m|when: receipts.total == 0",
            8,
            "when",
            "receipts events have no error_class label",
        ),
        (
            "source: receipts|window: 1m|when: error_share.exists(c, error_share[c] > 0.5)",
            7,
            "when",
            "name the alert's value with `value:`",
        ),
        (
            "source: receipts|window: 1m|when: total > 0|value: totl",
            8,
            "value",
            "unknown variable totl",
        ),
        (
            "source: supplier_logs|window: 1m|when: error_count > 0"
            "|annotations: {summary: '{{ aggregates.delivery_rate }}'}",
            8,
            "annotations.summary",
            "supplier_logs windows have no aggregate delivery_rate",
        ),
        (
            "expr: up|actions:|- cutover: {carrier: x}",
            7,
            "actions.0.cutover",
            "`supplier` is required for cutover",
        ),
        ("expr: up|actions:|- explode: {}", 7, "actions.0.explode", "unknown action"),
        (
            "expr: up|actions:|- {cutover: {supplier: a}, degrade: {level: sample}}",
            7,
            "actions.0",
            "an action is a mapping with one key",
        ),
        (
            "expr: up|actions:|- degrade: {level: sample, sample_ratio: 2}",
            7,
            "actions.0.degrade.sample_ratio",
            "expected a ratio in (0, 1]",
        ),
        (
            "expr: up|actions:|- degrade: {level: extreme}",
            7,
            "actions.0.degrade.level",
            "expected one of normal, sample",
        ),
        (
            "expr: up|actions:|- cutover: {supplier: '{{ labels.supplier'}",
            7,
            "actions.0.cutover.supplier",
            "invalid template",
        ),
    ],
)
def test_each_alert_rule_mistake_names_its_line_and_key(
    rule: str, line: int, key: str, message: str
) -> None:
    # `alert: A` is line 4; the rule's own lines (written here separated by |) follow from 5.
    text = "groups:\n  - name: g\n    rules:\n      - alert: A\n"
    text += "".join(f"        {part}\n" for part in rule.split("|"))
    found = one_problem(text)
    where = f"groups.0.rules.0.{key}" if key else "groups.0.rules.0"
    assert found.startswith(f"rules.yaml:{line}: {where}: "), found
    assert message in found


def test_recording_rule_mistakes() -> None:
    found = problems("""
        groups:
          - name: g
            rules:
              - record: bad-name
                expr: up
                for: 1m
                annotations: {summary: x}
              - record: ok_name
                source: receipts
                window: 1m
              - alert: A
                record: B
                expr: up
              - expr: up
        """)
    assert found == [
        "rules.yaml:4: groups.0.rules.0.record: 'bad-name' is not a valid metric name "
        "([a-zA-Z_:][a-zA-Z0-9_:]*)",
        "rules.yaml:6: groups.0.rules.0.for: `for` applies to alert rules only, "
        "not to `record` rules",
        "rules.yaml:7: groups.0.rules.0.annotations: `annotations` applies to alert rules only, "
        "not to `record` rules",
        "rules.yaml:8: groups.0.rules.1: `value` is required (a CEL expression)",
        "rules.yaml:11: groups.0.rules.2: a rule has either `alert` or `record`, not both",
        "rules.yaml:14: groups.0.rules.3: a rule needs `alert: <name>` or `record: <series name>`",
    ]


def test_duplicate_group_names_in_one_file_are_errors_but_duplicate_alerts_are_not() -> None:
    found = one_problem("""
        groups:
          - name: g
            rules:
              - {alert: A, expr: up == 0}
              - {alert: A, expr: up == 2}
          - name: g
        """)
    assert found == "rules.yaml:6: groups.1.name: duplicate group name 'g' (first at line 2)"


def test_structural_mistakes() -> None:
    assert one_problem("- name: g\n") == (
        "rules.yaml:1: expected a mapping (a rule file), got a list"
    )
    assert one_problem("groups:\n  name: g\n").startswith(
        "rules.yaml:1: groups: expected a list of groups, got a mapping"
    )
    assert one_problem("groups:\n- name: g\n  rules:\n  - up == 0\n").startswith(
        "rules.yaml:4: groups.0.rules.0: expected a rule"
    )
    assert one_problem("groups:\n- rules: []\n") == "rules.yaml:2: groups.0: `name` is required"
    assert one_problem("groups:\n- name: g\n  limit: -1\n").startswith(
        "rules.yaml:3: groups.0.limit: expected a whole number"
    )
    assert one_problem("groups: [\n").startswith("rules.yaml:2: invalid YAML")


def test_every_problem_in_a_file_is_reported_in_line_order() -> None:
    found = problems("""
        groups:
          - name: g
            interval: often
            rules:
              - alert: A
                expr: up
                for: soon
              - alert: B
                source: nowhere
        """)
    assert [line.split(":")[1] for line in found] == ["3", "7", "9"]


def test_shipped_rules_and_examples_load() -> None:
    rule_set = load_rule_paths([RULES_DIR, RULES_DIR / "examples"])
    names = {rule.name for group in rule_set.groups for rule in group.rules}
    assert {
        "SupplierDeliveryRateLow",
        "ReceiptLatencyHigh",
        "SubmitErrorRateHigh",
        "ReceiptsMissing",
        "SupplierBalanceLow",
        "SubmitErrorCodeSpike",
        "ReceiptErrorCodeSpike",
        "SendApiErrors",
        "BusLagHigh",
        "NodeDown",
    } <= names
    assert rule_set.rule_count == len(names)  # every shipped rule has its own name


def test_the_prometheus_example_loads_unchanged_and_renders_like_prometheus() -> None:
    groups = load_rule_file(RULES_DIR / "examples" / "node-exporter.yaml")
    rules = {rule.name: rule for group in groups for rule in group.rules}
    node_down = rules["NodeDown"]
    assert isinstance(node_down, AlertRule) and node_down.expr == 'up{job="node"} == 0'
    context = TemplateContext(labels={"instance": "db-1:9100", "job": "node"}, value=0.0)
    assert node_down.annotations["summary"].render(context) == "Instance db-1:9100 down"
    load = rules["NodeHighLoad"]
    assert isinstance(load, AlertRule) and load.keep_firing_for_s == 600.0
    rendered = load.annotations["summary"].render(
        TemplateContext(labels={"instance": "db-1:9100"}, value=2.4567)
    )
    assert rendered == "Load on db-1:9100 is 2.46 per CPU"
    memory = rules["NodeMemoryLow"]
    assert isinstance(memory, AlertRule)
    rendered = memory.annotations["summary"].render(
        TemplateContext(labels={"instance": "db-1:9100"}, value=300 * 1024 * 1024.0)
    )
    assert rendered == "db-1:9100: 300MiB of memory available"


def test_rule_files_expands_directories_without_recursing(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("groups: []\n")
    (tmp_path / "a.yml").write_text("groups: []\n")
    (tmp_path / "notes.txt").write_text("not rules")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "c.yaml").write_text("groups: []\n")
    assert rule_files([tmp_path]) == [tmp_path / "a.yml", tmp_path / "b.yaml"]
    with pytest.raises(ConfigError, match="no such file or directory"):
        rule_files([tmp_path / "missing.yaml"])


def test_a_broken_file_fails_the_whole_load_with_the_problems_of_every_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.yaml").write_text("groups:\n- name: a\n  interval: x\n")
    (tmp_path / "b.yaml").write_text("groups:\n- name: b\n  rules:\n  - alert: B\n")
    (tmp_path / "c.yaml").write_text("groups:\n- name: c\n")
    with pytest.raises(ConfigError) as failure:
        load_rule_paths([tmp_path])
    assert [(Path(p.file).name, p.line) for p in failure.value.problems] == [
        ("a.yaml", 3),
        ("b.yaml", 4),
    ]
