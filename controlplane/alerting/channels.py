"""Notifiers from alerting.yaml: one `build_notifier` per channel config, each on its budget."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
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
from controlplane.alerting.oncall import OnCall, is_oncall_target
from controlplane.alerting.pipeline import Channel
from controlplane.alerting.pipeline import Receiver as PipelineReceiver
from controlplane.settings import AlertingSettings
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
from notifiers.budget import (
    VOICE_CALLEE_LIMITS,
    WECOM_APP_MEMBER_LIMITS,
    CombinedBudget,
    SlidingWindowBudget,
)
from notifiers.per_recipient import PerRecipientBudget
from notifiers.sms import ALERT_TEMPLATE, SupplierRanking
from notifiers.sms_direct import DirectSms
from notifiers.sms_direct_setup import load_direct_sms
from notifiers.templates import Templates, default_templates
from notifiers.voice import CallBinder
from smsplatform.clock import Clock

log = logging.getLogger(__name__)


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
    # Told each voice call's OutId before it is placed, to bind it to the escalation episode.
    bind_voice_call: CallBinder | None = None


def channel_services(
    settings: AlertingSettings, clock: Clock, ranking: SupplierRanking | None = None
) -> ChannelServices:
    """The site's channel endpoints from the service settings (the service and send-test)."""
    sms_token = settings.sms_token.get_secret_value()
    direct = (
        load_direct_sms(Path(settings.sms_direct_config), sms_token, ALERT_TEMPLATE, clock)
        if settings.sms_direct_config is not None
        else None
    )
    return ChannelServices(
        wecom_api_url=settings.wecom_api_url,
        voice_api_url=settings.voice_api_url,
        voice_access_key_id=settings.voice_access_key_id,
        voice_access_key_secret=settings.voice_access_key_secret.get_secret_value(),
        sms_api_url=settings.sms_api_url,
        sms_token=sms_token,
        console_url=settings.public_url,
        sms_ranking=ranking,
        sms_direct=direct,
    )


def oncall_recipients(oncall: OnCall, clock: Clock) -> Callable[[Sequence[str]], tuple[str, ...]]:
    """Phone numbers for a channel's targets now: `oncall:` targets become who is on call."""

    def resolve(targets: Sequence[str]) -> tuple[str, ...]:
        numbers: dict[str, None] = {}
        for target in targets:
            if not is_oncall_target(target):
                numbers[target] = None
                continue
            member = oncall.resolve(target, clock.now())
            if member is None:
                log.warning("oncall.nobody target=%s", target)
            else:
                numbers[member.phone] = None
        return tuple(numbers)

    return resolve


def _split(url: str, query_key: str) -> tuple[str, str]:
    """A robot's webhook URL as (service base URL, its token from the query)."""
    parts = urlsplit(url)
    token = parse_qs(parts.query).get(query_key, [""])[0]
    return f"{parts.scheme}://{parts.netloc}", token


def build_notifier(
    config: ChannelConfig,
    clock: Clock,
    services: ChannelServices,
    client: httpx.AsyncClient,
    templates: Templates = default_templates,
) -> tuple[Notifier, str]:
    """The notifier for one channel config, and its endpoint key (what its budget is kept by)."""
    if isinstance(config, DingTalkConfig):
        base, token = _split(config.webhook_url, "access_token")
        endpoint = DingTalkEndpoint(
            token, config.secret, config.keywords, config.msgtype, base_url=base
        )
        dingtalk = DingTalkNotifier(endpoint, clock=clock, client=client, templates=templates)
        return dingtalk, f"dingtalk:{token}"
    if isinstance(config, WeComConfig):
        base, key = _split(config.webhook_url, "key")
        robot = WeComRobotEndpoint(key, base_url=base)
        return WeComRobotNotifier(robot, client=client, templates=templates), f"wecom:{key}"
    if isinstance(config, WeComAppConfig):
        app = WeComAppEndpoint(
            config.corp_id,
            config.corp_secret,
            config.agent_id,
            tuple(config.to_user.split("|")),
            base_url=services.wecom_api_url,
        )
        wecom_app = WeComAppNotifier(app, clock=clock, client=client, templates=templates)
        return wecom_app, f"wecom_app:{config.agent_id}"
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
        calls = VoiceNotifier(
            voice,
            clock=clock,
            client=client,
            templates=templates,
            bind_call=services.bind_voice_call,
        )
        return calls, "voice"
    if isinstance(config, SmsConfig):
        sms = SmsEndpoint(services.sms_api_url, services.sms_token)
        sms_notifier = SmsNotifier(
            sms,
            client=client,
            templates=templates,
            ranking=services.sms_ranking,
            direct=services.sms_direct,
        )
        return sms_notifier, "sms"
    assert isinstance(config, WebhookConfig)
    hook = WebhookEndpoint(
        config.url, config.max_alerts, services.console_url, config.authorization
    )
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
    budgets: EndpointBudgets,
    templates: Templates = default_templates,
) -> Channel:
    """A pipeline channel: the notifier, its targets, and its client-side budget if limited."""
    config = channel.config
    notifier, endpoint = build_notifier(config, clock, services, client, templates)
    budget: SlidingWindowBudget | None = None
    if channel.channel in ("dingtalk", "wecom"):
        # Robots block for minutes past 20 a minute (WIRE.md §1, §2): each robot gets one
        # budget, shared by every receiver that names it.
        budget = budgets.for_endpoint(endpoint)
    elif isinstance(config, WeComAppConfig):
        # Past 30 a minute per member WeCom drops the excess without an error (WIRE.md §3):
        # a message spends the budget of every member it goes to.
        budget = CombinedBudget(
            [
                budgets.for_endpoint(f"{endpoint}:{member}", WECOM_APP_MEMBER_LIMITS)
                for member in config.to_user.split("|")
            ],
            clock,
        )
    elif isinstance(config, VoiceConfig):
        # Callees are known only at send time (on-call), so the budget is kept per callee.
        notifier = PerRecipientBudget(
            notifier,
            lambda callee: budgets.for_endpoint(f"voice:{callee}", VOICE_CALLEE_LIMITS),
            clock,
        )
    return Channel(
        notifier,
        budget,
        name=channel.channel,
        targets=_targets(config),
        send_resolved=config.send_resolved,
    )


def build_receivers(
    receivers: Mapping[str, Receiver],
    clock: Clock,
    services: ChannelServices,
    client: httpx.AsyncClient,
    templates: Templates = default_templates,
) -> dict[str, PipelineReceiver]:
    """Every receiver of the config with its channels built, in fallback order."""
    budgets = EndpointBudgets(clock=clock)
    return {
        name: PipelineReceiver(
            name,
            tuple(
                build_channel(c, clock, services, client, budgets, templates)
                for c in receiver.channels
            ),
        )
        for name, receiver in receivers.items()
    }
