"""Notification channels (DingTalk, WeCom, SMS, voice, webhook) behind one Notifier protocol."""

from notifiers.base import AlertSummary, Notification, Notifier, NotifyResult, Outcome
from notifiers.budget import EndpointBudgets, SlidingWindowBudget
from notifiers.dingtalk import DingTalkConfig, DingTalkNotifier
from notifiers.retry import send_with_retry
from notifiers.sms import SmsConfig, SmsNotifier
from notifiers.templates import Templates
from notifiers.voice import VoiceConfig, VoiceNotifier
from notifiers.webhook import WebhookConfig, WebhookNotifier
from notifiers.wecom import WeComRobotConfig, WeComRobotNotifier
from notifiers.wecom_app import TokenCache, WeComAppConfig, WeComAppNotifier

__all__ = [
    "AlertSummary",
    "DingTalkConfig",
    "DingTalkNotifier",
    "EndpointBudgets",
    "Notification",
    "Notifier",
    "NotifyResult",
    "Outcome",
    "SlidingWindowBudget",
    "SmsConfig",
    "SmsNotifier",
    "Templates",
    "TokenCache",
    "VoiceConfig",
    "VoiceNotifier",
    "WeComAppConfig",
    "WeComAppNotifier",
    "WeComRobotConfig",
    "WeComRobotNotifier",
    "WebhookConfig",
    "WebhookNotifier",
    "send_with_retry",
]
