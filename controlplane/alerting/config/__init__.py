"""alerting.yaml: its model and loader, the routing tree, time intervals and the check commands."""

from controlplane.alerting.config.commands import alerting_check_command, alerting_route_command
from controlplane.alerting.config.inhibit import InhibitRule
from controlplane.alerting.config.loader import load_alerting_config, parse_alerting_config
from controlplane.alerting.config.matchers import (
    Matcher,
    MatcherError,
    MatchOp,
    format_label_set,
    parse_matcher,
    parse_matchers,
)
from controlplane.alerting.config.model import (
    AlertingConfig,
    Escalation,
    EscalationStep,
)
from controlplane.alerting.config.receivers import (
    ChannelConfig,
    DingTalkConfig,
    Receiver,
    ReceiverChannel,
    SmsConfig,
    VoiceConfig,
    WebhookConfig,
    WeComAppConfig,
    WeComConfig,
)
from controlplane.alerting.config.routes import Route, RouteOptions, receivers_for
from controlplane.alerting.config.timeintervals import NamedTimeInterval, TimeInterval

__all__ = [
    "AlertingConfig",
    "ChannelConfig",
    "DingTalkConfig",
    "Escalation",
    "EscalationStep",
    "InhibitRule",
    "MatchOp",
    "Matcher",
    "MatcherError",
    "NamedTimeInterval",
    "Receiver",
    "ReceiverChannel",
    "Route",
    "RouteOptions",
    "SmsConfig",
    "TimeInterval",
    "VoiceConfig",
    "WeComAppConfig",
    "WeComConfig",
    "WebhookConfig",
    "alerting_check_command",
    "alerting_route_command",
    "format_label_set",
    "load_alerting_config",
    "parse_alerting_config",
    "parse_matcher",
    "parse_matchers",
    "receivers_for",
]
