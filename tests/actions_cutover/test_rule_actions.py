"""The `actions: [{cutover: ...}]` field of alert rules: checked at load, with file:line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.engine.rules import load_rule_paths
from controlplane.engine.rules.model import RuleSet
from controlplane.engine.rules.templates import RuleTemplate, TemplateContext
from smsplatform.config.yamlsource import ConfigError

RULE = """groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0
        actions:
          - cutover: {cutover}
"""


def load(tmp_path: Path, cutover: str) -> RuleSet:
    path = tmp_path / "rules.yaml"
    path.write_text(RULE.replace("{cutover}", cutover))
    return load_rule_paths([path])


@pytest.mark.parametrize(
    ("cutover", "field", "message"),
    [
        ("{carrier: cmcc}", "actions.0.cutover", "`supplier` is required for cutover"),
        ("{supplier: ''}", "actions.0.cutover.supplier", "expected text"),
        (
            "{supplier: a, message_class: sms}",
            "actions.0.cutover.message_class",
            "expected one of otp, notification, marketing",
        ),
        ("{supplier: a, weight: 2}", "actions.0.cutover.weight", "unknown key"),
    ],
)
def test_a_bad_cutover_action_is_named_by_file_line_and_field(
    tmp_path: Path, cutover: str, field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, cutover)
    text = str(raised.value)
    assert f"rules.yaml:7: groups.0.rules.0.{field}" in text, text
    assert message in text


def test_a_cutover_action_renders_its_targets_from_the_alert_labels(tmp_path: Path) -> None:
    rule_set = load(tmp_path, '{supplier: "{{ labels.supplier }}", message_class: otp}')
    [group] = rule_set.groups
    [action] = group.alert_rules[0].actions
    assert action.kind == "cutover" and action.line == 7
    supplier = action.params["supplier"]
    assert isinstance(supplier, RuleTemplate)
    assert supplier.render(TemplateContext(labels={"supplier": "cmpp"})) == "cmpp"
