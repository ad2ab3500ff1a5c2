"""The PromQL part of an smsctl rule file, as a rule file Prometheus and promtool accept.

An smsctl rule file mixes stream rules (`source: receipts`, `when`, `window`, ...) with PromQL
rules (`source: prometheus`, or `expr` and no `source`). Prometheus knows only the latter, and
without our extra keys. The copy is made on the YAML node tree, so every kept value is written
as the user wrote it (quoting included) and each position in the copy maps back to the original
file, for error messages that point at the user's line. A file holding none of our keys is
already a Prometheus file and gets no copy, so promtool judges it exactly as it would on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml

# Rule keys smsctl adds to Prometheus' format (see controlplane/engine/rules/). Only these are
# stripped: any other unknown key stays, for promtool to report as Prometheus would.
SMSCTL_RULE_KEYS = frozenset(
    {"source", "filter", "by", "window", "when", "value", "on_no_data", "no_data_for", "actions"}
)
PROMETHEUS_SOURCE = "prometheus"

_STR_TAG = "tag:yaml.org,2002:str"
Position = tuple[int, int]  # (line, column), 1-based as promtool prints them


@dataclass(frozen=True)
class PrometheusRuleFile:
    """The Prometheus-format copy of an smsctl rule file, and where its nodes came from."""

    text: str
    origins: dict[Position, Position] = field(default_factory=dict)  # copy → original

    def original_position(self, line: int, column: int) -> Position:
        """Where a position in the copy stood in the original (a node start, else its line)."""
        if (line, column) in self.origins:
            return self.origins[(line, column)]
        starts_on_line = sorted(pos for pos in self.origins if pos[0] == line)
        return (self.origins[starts_on_line[0]][0], column) if starts_on_line else (line, column)


def is_promql_rule(keys: set[str], source: str | None) -> bool:
    """A rule Prometheus evaluates: `source: prometheus`, or an `expr` with no `source`.

    A rule with neither `expr` nor any key of ours is kept too: it is Prometheus' to reject.
    """
    if source is None:
        return "expr" in keys or not (keys & SMSCTL_RULE_KEYS)
    return source == PROMETHEUS_SOURCE


def prometheus_rule_file(text: str) -> PrometheusRuleFile | None:
    """The copy holding only the PromQL rules, stripped of our keys; None if no key is ours.

    Groups keep their names (a test's `group_eval_order` names them), even when no PromQL rule
    is left in them. None also for text that is not YAML: promtool reports that itself.
    """
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return None
    rule_lists = [rules for _, rules in _groups(root)]
    if not any(_keys(rule) & SMSCTL_RULE_KEYS for rules in rule_lists for rule in rules.value):
        return None
    for group, rules in _groups(root):
        group_labels = _pop(group, "labels")
        rules.value = [
            _with_group_labels(_strip(rule), group_labels)
            for rule in rules.value
            if _is_promql(rule)
        ]
    assert root is not None  # there were rules
    copy_text = yaml.serialize(root, width=1_000_000, allow_unicode=True)
    copy_root = yaml.compose(copy_text)
    origins = {
        _position(copied): _position(original)
        for copied, original in zip(_walk(copy_root), _walk(root), strict=True)
    }
    return PrometheusRuleFile(copy_text, origins)


def _groups(root: yaml.Node | None) -> Iterator[tuple[yaml.MappingNode, yaml.SequenceNode]]:
    """Each well-formed group with its rule list (promtool reports the malformed ones)."""
    groups = _get(root, "groups")
    if not isinstance(groups, yaml.SequenceNode):
        return
    for group in groups.value:
        rules = _get(group, "rules")
        if isinstance(group, yaml.MappingNode) and isinstance(rules, yaml.SequenceNode):
            yield group, rules


def _with_group_labels(rule: yaml.Node, group_labels: yaml.Node | None) -> yaml.Node:
    """The rule with its group's labels folded in (its own win), as smsctl applies them.

    Group-level `labels` are newer than Prometheus 2.42, whose promtool would refuse them.
    """
    if not isinstance(rule, yaml.MappingNode) or not isinstance(group_labels, yaml.MappingNode):
        return rule
    own = _get(rule, "labels")
    own_pairs = own.value if isinstance(own, yaml.MappingNode) else []
    own_names = {_key(key) for key, _ in own_pairs}
    inherited = [(_clone(k), _clone(v)) for k, v in group_labels.value if _key(k) not in own_names]
    if isinstance(own, yaml.MappingNode):
        own.value = inherited + own_pairs
    elif own is None:
        labels = yaml.MappingNode(group_labels.tag, inherited, group_labels.start_mark)
        rule.value.append((yaml.ScalarNode(_STR_TAG, "labels", group_labels.start_mark), labels))
    return rule


def _clone(node: yaml.Node) -> yaml.Node:
    """A copy of a scalar (one node used twice would be written as a YAML alias)."""
    if isinstance(node, yaml.ScalarNode):
        return yaml.ScalarNode(node.tag, node.value, node.start_mark, node.end_mark, node.style)
    return node


def _pop(node: yaml.MappingNode, name: str) -> yaml.Node | None:
    found = _get(node, name)
    node.value = [(key, value) for key, value in node.value if _key(key) != name]
    return found


def _is_promql(rule: yaml.Node) -> bool:
    if not isinstance(rule, yaml.MappingNode):
        return True  # malformed: promtool names it
    source = _get(rule, "source")
    source_text = str(source.value) if isinstance(source, yaml.ScalarNode) else None
    return is_promql_rule(_keys(rule), source_text)


def _strip(rule: yaml.Node) -> yaml.Node:
    if isinstance(rule, yaml.MappingNode):
        rule.value = [(k, v) for k, v in rule.value if _key(k) not in SMSCTL_RULE_KEYS]
    return rule


def _get(node: yaml.Node | None, name: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if _key(key) == name:
                found: yaml.Node = value
                return found
    return None


def _keys(node: yaml.Node) -> set[str]:
    if not isinstance(node, yaml.MappingNode):
        return set()
    return {name for key, _ in node.value if (name := _key(key)) is not None}


def _key(node: yaml.Node) -> str | None:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None


def _walk(node: yaml.Node | None) -> Iterator[yaml.Node]:
    """Every node in document order (an aliased node each time it is referenced)."""
    if node is None:
        return
    yield node
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _walk(item)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _walk(key)
            yield from _walk(value)


def _position(node: yaml.Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)
