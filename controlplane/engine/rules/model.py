"""The loaded form of a rule file: groups of alert and recording rules, compiled and immutable.

Everything here is checked and compiled once at load (durations in seconds, CEL compiled,
templates compiled), so evaluation never parses text. Rules are frozen dataclasses; a reload
builds new ones and swaps them in whole.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from controlplane.engine.alerts import NoDataPolicy, StateTiming
from controlplane.engine.cel_expr import CelExpression
from controlplane.engine.rules.templates import RuleTemplate

PROMETHEUS: Final = "prometheus"
# Stream sources are the windows' (controlplane/engine/sources.py); `prometheus` is PromQL.
STREAM_SOURCES: Final = ("receipts", "submits", "supplier_logs", "probes")
SOURCES: Final = (*STREAM_SOURCES, PROMETHEUS)
# Prometheus' default evaluation_interval is 1m; SMS faults need minutes-to-detect at most, so
# rules here run every 15s unless a group says otherwise (the value most Prometheus setups use).
DEFAULT_INTERVAL_S: Final = 15.0
ACTION_KINDS: Final = ("cutover", "degrade")

METRIC_NAME: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

ActionKind = Literal["cutover", "degrade"]


@dataclass(frozen=True)
class RuleOrigin:
    """Where a rule was written, for error messages and the console."""

    file: str
    line: int | None
    group: str


@dataclass(frozen=True)
class StreamQuery:
    """The window a stream rule reads: events of one source, filtered, grouped, over a span."""

    source: str  # one of STREAM_SOURCES
    by: tuple[str, ...]
    window_s: int  # whole seconds: windows are sums of per-second buckets
    filter: CelExpression | None = None
    # Other sources whose aggregates `when`/`value` read for the same label set and window
    # (`receipts.total == 0` in a submits rule): the cross-source form.
    joined_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleAction:
    """An automatic action a firing alert asks for: `{cutover: {...}}` or `{degrade: {...}}`."""

    kind: ActionKind
    # Strings are templates (`supplier: "{{ labels.supplier }}"`); numbers stay numbers.
    params: Mapping[str, RuleTemplate | float]
    line: int | None = None


@dataclass(frozen=True)
class AlertRule:
    """An `alert:` rule over a stream window (CEL `when`) or Prometheus (PromQL `expr`)."""

    name: str
    origin: RuleOrigin
    source: str  # one of SOURCES
    stream: StreamQuery | None = None  # set for stream rules, None for PromQL ones
    when: CelExpression | None = None  # stream rules: the condition over the window's aggregates
    # The alert's value: `value:` if written, else the left operand of `when`'s first comparison.
    value: CelExpression | None = None
    expr: str | None = None  # PromQL rules: the query whose result series are the alerts
    for_s: float = 0.0
    keep_firing_for_s: float = 0.0
    on_no_data: NoDataPolicy = NoDataPolicy.OK
    labels: Mapping[str, RuleTemplate] = field(default_factory=dict)
    annotations: Mapping[str, RuleTemplate] = field(default_factory=dict)
    actions: tuple[RuleAction, ...] = ()

    @property
    def is_promql(self) -> bool:
        return self.stream is None

    @property
    def timing(self) -> StateTiming:
        """The state machine's knobs for this rule."""
        return StateTiming(
            for_s=self.for_s, keep_firing_for_s=self.keep_firing_for_s, on_no_data=self.on_no_data
        )


@dataclass(frozen=True)
class RecordingRule:
    """A `record:` rule: a named series, from PromQL or from a CEL value over a window."""

    name: str  # the output series, a valid Prometheus metric name
    origin: RuleOrigin
    source: str
    stream: StreamQuery | None = None
    value: CelExpression | None = None  # stream rules: the recorded aggregate
    expr: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_promql(self) -> bool:
        return self.stream is None


Rule = AlertRule | RecordingRule


@dataclass(frozen=True)
class RuleGroup:
    """Rules evaluated together, every `interval_s`, in the order written."""

    name: str
    file: str
    line: int | None
    interval_s: float = DEFAULT_INTERVAL_S
    rules: tuple[Rule, ...] = ()
    # Prometheus' group fields, kept so a Prometheus file loads unchanged.
    limit: int = 0  # 0 = no limit on alerts (or series) per rule
    query_offset_s: float = 0.0

    @property
    def alert_rules(self) -> tuple[AlertRule, ...]:
        return tuple(rule for rule in self.rules if isinstance(rule, AlertRule))

    @property
    def recording_rules(self) -> tuple[RecordingRule, ...]:
        return tuple(rule for rule in self.rules if isinstance(rule, RecordingRule))


@dataclass(frozen=True)
class RuleSet:
    """All groups loaded from a set of rule files."""

    groups: tuple[RuleGroup, ...] = ()
    files: tuple[str, ...] = ()

    @property
    def rule_count(self) -> int:
        return sum(len(group.rules) for group in self.groups)
