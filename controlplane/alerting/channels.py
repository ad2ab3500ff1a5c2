"""Notifiers from alerting.yaml: one `build_notifier` per channel config, robots on a budget."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx

from controlplane.alerting.config import (
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
from controlplane.alerting.pipeline import Channel
from controlplane.alerting.pipeline import Receiver as PipelineReceiver
from controlplane.clock import Clock
from notifiers import DingTalkConfig as DingTalkEndpoint
from notifiers import (
    DingTalkNotifier,
    EndpointBudgets,
    Notifier,
    SmsNotifier,
    VoiceNotifier,
    WebhookNotifier,
    WeComAppNotifier,
    WeComRobotNotifier,
)
from notifiers import SmsConfig as SmsEndpoint
from notifiers import VoiceConfig as VoiceEndpoint
from notifiers import WebhookConfig as WebhookEndpoint
from notifiers import WeComAppConfig as WeComAppEndpoint
from notifiers import WeComRobotConfig as WeComRobotEndpoint
from notifiers.sms import SupplierRanking
from notifiers.sms_direct import DirectSms


@dataclass(frozen=True)
class ChannelServices:
    """Endpoints and credentials a channel config does not carry itself (they are per site)."""

    wecom_api_url: str = "https://qyapi.weixin.qq.com"
    voice_api_url: str = "https://dyvmsapi.aliyuncs.com"
    voice_access_key_id: str = ""
    voice_access_key_secret: str = ""
    sms_api_url: str = "http://127.0.0.1:8081"
    sms_token: str = ""
    console_url: str = ""
    # Alert SMS pick their supplier from this (the routing table and recent submits) ...
    sms_ranking: SupplierRanking | None = None
    # ... and go supplier-direct through these adapters when the send tier is down.
    sms_direct: DirectSms | None = None


def _split(url: str, query_key: str) -> tuple[str, str]:
    """A robot's webhook URL as (service base URL, its token from the query)."""
    parts = urlsplit(url)
    token = parse_qs(parts.query).get(query_key, [""])[0]
    return f"{parts.scheme}://{parts.netloc}", token


def build_notifier(
    config: ChannelConfig, clock: Clock, services: ChannelServices, client: httpx.AsyncClient
) -> tuple[Notifier, str]:
    """The notifier for one channel config, and its endpoint key (what its budget is kept by)."""
    if isinstance(config, DingTalkConfig):
        base, token = _split(config.webhook_url, "access_token")
        endpoint = DingTalkEndpoint(token, config.secret, config.keywords, base_url=base)
        return DingTalkNotifier(endpoint, clock=clock, client=client), f"dingtalk:{token}"
    if isinstance(config, WeComConfig):
        base, key = _split(config.webhook_url, "key")
        return WeComRobotNotifier(WeComRobotEndpoint(key, base_url=base), client=client), (
            f"wecom:{key}"
        )
    if isinstance(config, WeComAppConfig):
        app = WeComAppEndpoint(
            config.corp_id,
            config.corp_secret,
            config.agent_id,
            tuple(config.to_user.split("|")),
            base_url=services.wecom_api_url,
        )
        return WeComAppNotifier(app, clock=clock, client=client), f"wecom_app:{config.agent_id}"
    if isinstance(config, VoiceConfig):
        # One voice provider per site (`voice_api_url`). It is not an SMS supplier and has no
        # entry in the routing table, so there is no health to rank it by; a call it cannot
        # place fails over to the receiver's next channel (e.g. a second provider's config).
        voice = VoiceEndpoint(
            services.voice_access_key_id,
            services.voice_access_key_secret,
            config.tts_code,
            base_url=services.voice_api_url,
        )
        return VoiceNotifier(voice, clock=clock, client=client), "voice"
    if isinstance(config, SmsConfig):
        sms = SmsEndpoint(services.sms_api_url, services.sms_token)
        notifier = SmsNotifier(
            sms, client=client, ranking=services.sms_ranking, direct=services.sms_direct
        )
        return notifier, "sms"
    assert isinstance(config, WebhookConfig)
    hook = WebhookEndpoint(config.url, config.max_alerts, services.console_url)
    return WebhookNotifier(hook, client=client), f"webhook:{config.url}"


def _targets(config: ChannelConfig) -> tuple[str, ...]:
    if isinstance(config, DingTalkConfig):
        return config.at_mobiles
    if isinstance(config, WeComConfig):
        return config.mentioned_mobiles
    if isinstance(config, SmsConfig | VoiceConfig):
        return config.to
    return ()


def build_channel(
    channel: ReceiverChannel,
    clock: Clock,
    services: ChannelServices,
    client: httpx.AsyncClient,
    robot_budgets: EndpointBudgets,
) -> Channel:
    """A pipeline channel: the notifier, its targets, and for group robots a 20/min budget."""
    notifier, endpoint = build_notifier(channel.config, clock, services, client)
    # DingTalk and WeCom robots block for minutes past 20 a minute (WIRE.md §1, §2): each robot
    # gets one budget, shared by every receiver that names it.
    robot = channel.channel in ("dingtalk", "wecom")
    return Channel(
        notifier,
        robot_budgets.for_endpoint(endpoint) if robot else None,
        name=channel.channel,
        targets=_targets(channel.config),
        send_resolved=channel.config.send_resolved,
    )


def build_receivers(
    receivers: Mapping[str, Receiver],
    clock: Clock,
    services: ChannelServices,
    client: httpx.AsyncClient,
) -> dict[str, PipelineReceiver]:
    """Every receiver of the config with its channels built, in fallback order."""
    budgets = EndpointBudgets(clock=clock)
    return {
        name: PipelineReceiver(
            name,
            tuple(build_channel(c, clock, services, client, budgets) for c in receiver.channels),
        )
        for name, receiver in receivers.items()
    }
