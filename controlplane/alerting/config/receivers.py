"""Receivers: named lists of channels in fallback order, Alertmanager integrations reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import phonenumbers

from controlplane.alerting.config.http_config import read_authorization, read_file_setting
from controlplane.alerting.config.reader import ConfigReader
from controlplane.engine.rules.fields import Path
from smsplatform.redact import safe_url

ONCALL_PREFIX = "oncall:"

# Alertmanager integrations we load but cannot send through; `check` lists each use.
UNSUPPORTED_INTEGRATIONS = (
    "email_configs",
    "pagerduty_configs",
    "slack_configs",
    "opsgenie_configs",
    "wechat_configs",
    "pushover_configs",
    "victorops_configs",
    "sns_configs",
    "telegram_configs",
    "webex_configs",
    "discord_configs",
    "msteams_configs",
)
# Channel key in the file → channel name notifiers use (Notifier.channel).
CHANNEL_KEYS = {
    "webhook_configs": "webhook",
    "dingtalk_configs": "dingtalk",
    "wecom_configs": "wecom",
    "wecom_app_configs": "wecom_app",
    "sms_configs": "sms",
    "voice_configs": "voice",
}


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    send_resolved: bool = True
    max_alerts: int = 0
    # The `Authorization` header `http_config` asks for; kept out of repr (it is a secret).
    authorization: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DingTalkConfig:
    webhook_url: str
    secret: str | None = None
    keywords: tuple[str, ...] = ()
    at_mobiles: tuple[str, ...] = ()
    send_resolved: bool = True
    msgtype: Literal["markdown", "actionCard"] = "markdown"


@dataclass(frozen=True)
class WeComConfig:
    webhook_url: str
    mentioned_mobiles: tuple[str, ...] = ()
    send_resolved: bool = True


@dataclass(frozen=True)
class WeComAppConfig:
    corp_id: str
    corp_secret: str
    agent_id: int
    to_user: str = "@all"
    send_resolved: bool = True


@dataclass(frozen=True)
class SmsConfig:
    to: tuple[str, ...]  # phone numbers or `oncall:<layer>@<schedule>`
    send_resolved: bool = False


@dataclass(frozen=True)
class VoiceConfig:
    to: tuple[str, ...]
    tts_code: str
    send_resolved: bool = False


ChannelConfig = (
    WebhookConfig | DingTalkConfig | WeComConfig | WeComAppConfig | SmsConfig | VoiceConfig
)


@dataclass(frozen=True)
class ReceiverChannel:
    """One channel of a receiver; `channel` is the notifier's name for it."""

    channel: str
    config: ChannelConfig
    line: int | None = None


@dataclass(frozen=True)
class Receiver:
    """A named receiver; `channels` in file order is the order fallback tries them."""

    name: str
    channels: tuple[ReceiverChannel, ...] = ()
    unsupported: tuple[str, ...] = ()  # Alertmanager integration keys present but not sent
    line: int | None = None


def read_receiver(reader: ConfigReader, raw: Any, path: Path) -> Receiver | None:
    allowed = ("name", *CHANNEL_KEYS, *UNSUPPORTED_INTEGRATIONS)
    node = reader.mapping(raw, path, allowed, "receiver")
    if node is None:
        return None
    name = reader.string(node, path, "name", required=True)
    channels: list[ReceiverChannel] = []
    unsupported: list[str] = []
    # Mappings keep file order, so channels come out in the order they are written.
    for key, value in node.items():
        if key in UNSUPPORTED_INTEGRATIONS and value:
            unsupported.append(key)
            reader.warn(
                (*path, key),
                f"receiver {name!r}: integration {key} is not supported; it will not be notified",
            )
        if key not in CHANNEL_KEYS:
            continue
        items = reader.sequence(value or [], (*path, key), "channel configs")
        for index, item in enumerate(items or []):
            where = (*path, key, index)
            config = _READERS[key](reader, item, where)
            if config is not None:
                channels.append(ReceiverChannel(CHANNEL_KEYS[key], config, reader.line(where)))
    if name is None:
        return None
    return Receiver(name, tuple(channels), tuple(unsupported), reader.line(path))


def _webhook(reader: ConfigReader, raw: Any, path: Path) -> WebhookConfig | None:
    keys = ("url", "url_file", "send_resolved", "max_alerts", "http_config")
    node = reader.mapping(raw, path, keys, "webhook config")
    if node is None:
        return None
    url = _url(reader, node, path, "url", required="url_file" not in node)
    if "url_file" in node:
        url = read_file_setting(reader, node, path, "url_file")
    max_alerts = node.get("max_alerts", 0)
    if isinstance(max_alerts, bool) or not isinstance(max_alerts, int) or max_alerts < 0:
        reader.fail((*path, "max_alerts"), "expected a whole number ≥ 0")
        max_alerts = 0
    authorization = (
        read_authorization(reader, node["http_config"], (*path, "http_config"))
        if node.get("http_config")
        else None
    )
    if url is None:
        return None
    send_resolved = _flag(reader, node, path, default=True)
    return WebhookConfig(url, send_resolved, max_alerts, authorization)


def _dingtalk(reader: ConfigReader, raw: Any, path: Path) -> DingTalkConfig | None:
    keys = ("webhook_url", "secret", "keywords", "at_mobiles", "send_resolved", "msgtype")
    node = reader.mapping(raw, path, keys, "dingtalk config")
    if node is None:
        return None
    url = _url(reader, node, path, "webhook_url", required=True)
    keywords = reader.string_list(node, path, "keywords")
    if len(keywords) > 10:
        reader.fail((*path, "keywords"), "a DingTalk robot has at most 10 keywords")
    msgtype = node.get("msgtype", "markdown")
    if msgtype not in ("markdown", "actionCard"):
        reader.fail((*path, "msgtype"), f"{msgtype!r}: expected markdown or actionCard")
        msgtype = "markdown"
    if url is None:
        return None
    return DingTalkConfig(
        webhook_url=url,
        secret=reader.string(node, path, "secret"),
        keywords=keywords,
        at_mobiles=_phones(reader, node, path, "at_mobiles", allow_oncall=True),
        send_resolved=_flag(reader, node, path, default=True),
        msgtype=msgtype,
    )


def _wecom(reader: ConfigReader, raw: Any, path: Path) -> WeComConfig | None:
    keys = ("webhook_url", "mentioned_mobiles", "send_resolved")
    node = reader.mapping(raw, path, keys, "wecom config")
    if node is None:
        return None
    url = _url(reader, node, path, "webhook_url", required=True)
    mobiles = _phones(reader, node, path, "mentioned_mobiles", allow_oncall=True, allow_all=True)
    if url is None:
        return None
    return WeComConfig(url, mobiles, _flag(reader, node, path, default=True))


def _wecom_app(reader: ConfigReader, raw: Any, path: Path) -> WeComAppConfig | None:
    keys = ("corp_id", "corp_secret", "agent_id", "to_user", "send_resolved")
    node = reader.mapping(raw, path, keys, "wecom app config")
    if node is None:
        return None
    corp_id = reader.string(node, path, "corp_id", required=True)
    corp_secret = reader.string(node, path, "corp_secret", required=True)
    agent_id = node.get("agent_id")
    if isinstance(agent_id, str) and agent_id.isdigit():
        agent_id = int(agent_id)
    if isinstance(agent_id, bool) or not isinstance(agent_id, int):
        where = (*path, "agent_id") if "agent_id" in node else path
        reader.fail(where, "`agent_id` (a number) is required")
        agent_id = None
    to_user = reader.string(node, path, "to_user") or "@all"
    if corp_id is None or corp_secret is None or agent_id is None:
        return None
    return WeComAppConfig(
        corp_id, corp_secret, agent_id, to_user, _flag(reader, node, path, default=True)
    )


def _sms(reader: ConfigReader, raw: Any, path: Path) -> SmsConfig | None:
    node = reader.mapping(raw, path, ("to", "send_resolved"), "sms config")
    if node is None:
        return None
    to = _targets(reader, node, path)
    return SmsConfig(to, _flag(reader, node, path, default=False)) if to else None


def _voice(reader: ConfigReader, raw: Any, path: Path) -> VoiceConfig | None:
    node = reader.mapping(raw, path, ("to", "tts_code", "send_resolved"), "voice config")
    if node is None:
        return None
    to = _targets(reader, node, path)
    tts_code = reader.string(node, path, "tts_code", required=True)
    if not to or tts_code is None:
        return None
    return VoiceConfig(to, tts_code, _flag(reader, node, path, default=False))


_READERS = {
    "webhook_configs": _webhook,
    "dingtalk_configs": _dingtalk,
    "wecom_configs": _wecom,
    "wecom_app_configs": _wecom_app,
    "sms_configs": _sms,
    "voice_configs": _voice,
}


def _targets(reader: ConfigReader, node: dict[str, Any], path: Path) -> tuple[str, ...]:
    if "to" not in node:
        reader.fail(path, "`to` is required")
        return ()
    if node["to"] in (None, []):
        reader.fail((*path, "to"), "must name at least one phone number or on-call target")
        return ()
    return _phones(reader, node, path, "to", allow_oncall=True)


def _phones(
    reader: ConfigReader,
    node: dict[str, Any],
    path: Path,
    key: str,
    *,
    allow_oncall: bool,
    allow_all: bool = False,
) -> tuple[str, ...]:
    """Phone numbers (and `oncall:<layer>@<schedule>` targets, checked later against `oncall`)."""
    targets = reader.string_list(node, path, key)
    for index, target in enumerate(targets):
        if allow_oncall and target.startswith(ONCALL_PREFIX):
            layer, at, schedule = target.removeprefix(ONCALL_PREFIX).partition("@")
            if not (layer and at and schedule):
                reader.fail((*path, key, index), f"{target!r}: write oncall:<layer>@<schedule>")
        elif not (allow_all and target == "@all") and not _is_phone(target):
            reader.fail((*path, key, index), f"{target!r} is not a phone number")
    return targets


def _is_phone(text: str) -> bool:
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(number))


def _url(
    reader: ConfigReader, node: dict[str, Any], path: Path, key: str, *, required: bool
) -> str | None:
    url = reader.string(node, path, key, required=required)
    if url is not None and not url.startswith(("http://", "https://")):
        # Not the URL itself: a webhook's carries its credential.
        reader.fail((*path, key), f"expected an http(s) URL, got {safe_url(url)!r}")
        return None
    return url


def _flag(reader: ConfigReader, node: dict[str, Any], path: Path, *, default: bool) -> bool:
    value = node.get("send_resolved", default)
    if not isinstance(value, bool):
        reader.fail((*path, "send_resolved"), "expected true or false")
        return default
    return value
