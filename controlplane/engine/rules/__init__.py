"""Rule files: the model, the YAML loader, durations, sandboxed templates and `rules check`."""

from controlplane.engine.rules.check import rules_check_command
from controlplane.engine.rules.durations import DurationError, format_duration, parse_duration
from controlplane.engine.rules.loader import (
    load_rule_file,
    load_rule_paths,
    load_rules_text,
    rule_files,
)
from controlplane.engine.rules.model import (
    DEFAULT_INTERVAL_S,
    PROMETHEUS,
    SOURCES,
    STREAM_SOURCES,
    AlertRule,
    RecordingRule,
    Rule,
    RuleAction,
    RuleGroup,
    RuleOrigin,
    RuleSet,
    StreamQuery,
)
from controlplane.engine.rules.templates import (
    RuleTemplate,
    TemplateContext,
    TemplateError,
    compile_template,
)

__all__ = [
    "DEFAULT_INTERVAL_S",
    "PROMETHEUS",
    "SOURCES",
    "STREAM_SOURCES",
    "AlertRule",
    "DurationError",
    "RecordingRule",
    "Rule",
    "RuleAction",
    "RuleGroup",
    "RuleOrigin",
    "RuleSet",
    "RuleTemplate",
    "StreamQuery",
    "TemplateContext",
    "TemplateError",
    "compile_template",
    "format_duration",
    "load_rule_file",
    "load_rule_paths",
    "load_rules_text",
    "parse_duration",
    "rule_files",
    "rules_check_command",
]
