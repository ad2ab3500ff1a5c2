"""The loaded alerting.yaml: route tree, receivers, inhibition, intervals, escalations, on-call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from controlplane.alerting.config.inhibit import InhibitRule
from controlplane.alerting.config.receivers import Receiver
from controlplane.alerting.config.routes import Route
from controlplane.alerting.config.timeintervals import NamedTimeInterval
from controlplane.alerting.oncall import OnCall
from notifiers.templates import Templates, default_templates
from smsplatform.config.yamlsource import ConfigProblem

DEFAULT_RESOLVE_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class EscalationStep:
    """Notify `receivers` once `after_s` seconds have passed since the group first fired."""

    after_s: float
    receivers: tuple[str, ...]


@dataclass(frozen=True)
class Escalation:
    """A named chain of steps, in order of `after_s`, stopped by an acknowledgement."""

    name: str
    steps: tuple[EscalationStep, ...]


@dataclass(frozen=True)
class AlertingConfig:
    """Everything alerting.yaml (or an Alertmanager config file) says, validated."""

    file: str
    route: Route
    receivers: Mapping[str, Receiver]
    inhibit_rules: tuple[InhibitRule, ...] = ()
    time_intervals: Mapping[str, NamedTimeInterval] = field(default_factory=dict)
    escalations: Mapping[str, Escalation] = field(default_factory=dict)
    # On-call schedules, parsed once at load: `oncall:<layer>@<schedule>` targets resolve here.
    oncall: OnCall = field(default_factory=lambda: OnCall({}))
    resolve_timeout_s: float = DEFAULT_RESOLVE_TIMEOUT_S
    # Message bodies: the defaults with the file's `templates:` overrides, compiled at load.
    templates: Templates = default_templates
    # Things accepted but not acted on (unsupported integrations, ignored keys, deprecations).
    warnings: tuple[ConfigProblem, ...] = ()

    def is_muted(self, route: Route, at: datetime) -> bool:
        """Whether notifications of `route` are held at `at` by its mute or active intervals."""
        options = route.options
        if any(self.time_intervals[name].contains(at) for name in options.mute_time_intervals):
            return True
        return bool(options.active_time_intervals) and not any(
            self.time_intervals[name].contains(at) for name in options.active_time_intervals
        )
