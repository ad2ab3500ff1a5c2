"""Loading alerting.yaml (or an Alertmanager config as it is): every problem with file and line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path as FilePath
from typing import Any

from controlplane.alerting.config.inhibit import read_inhibit_rule
from controlplane.alerting.config.model import (
    DEFAULT_RESOLVE_TIMEOUT_S,
    AlertingConfig,
    Escalation,
    EscalationStep,
)
from controlplane.alerting.config.reader import ConfigReader
from controlplane.alerting.config.receivers import (
    ONCALL_PREFIX,
    ChannelConfig,
    DingTalkConfig,
    Receiver,
    SmsConfig,
    VoiceConfig,
    WeComConfig,
    read_receiver,
)
from controlplane.alerting.config.route_loader import read_route
from controlplane.alerting.config.routes import Route
from controlplane.alerting.config.templates import read_templates
from controlplane.alerting.config.timeintervals import NamedTimeInterval, read_named_interval
from controlplane.alerting.oncall import OnCall, read_oncall
from controlplane.engine.rules.fields import Path
from smsplatform.config.yamlsource import (
    ConfigError,
    ConfigProblem,
    YamlDocument,
    load_yaml,
    parse_yaml,
)

_TOP_KEYS = (
    "global",
    "route",
    "receivers",
    "inhibit_rules",
    "time_intervals",
    "mute_time_intervals",
    "templates",
    "escalations",  # ours
    "oncall",  # ours
)
# Alertmanager's global settings for integrations we do not have: accepted, noted, unused.
_IGNORED_GLOBALS = (
    "http_config",
    "smtp_from",
    "smtp_hello",
    "smtp_smarthost",
    "smtp_auth_username",
    "smtp_auth_password",
    "smtp_auth_password_file",
    "smtp_auth_secret",
    "smtp_auth_identity",
    "smtp_require_tls",
    "slack_api_url",
    "slack_api_url_file",
    "pagerduty_url",
    "opsgenie_api_url",
    "opsgenie_api_key",
    "opsgenie_api_key_file",
    "wechat_api_url",
    "wechat_api_secret",
    "wechat_api_corp_id",
    "victorops_api_url",
    "victorops_api_key",
    "victorops_api_key_file",
    "telegram_api_url",
    "webex_api_url",
)


def load_alerting_config(path: FilePath) -> AlertingConfig:
    """Read and validate a file; raises ConfigError listing every problem found."""
    return _build(load_yaml(path))


def parse_alerting_config(text: str, file: str = "alerting.yaml") -> AlertingConfig:
    return _build(parse_yaml(text, file))


def _build(document: YamlDocument) -> AlertingConfig:
    reader = ConfigReader(document)
    top = reader.mapping(document.data or {}, (), _TOP_KEYS, "alerting config")
    if top is None:
        raise ConfigError(reader.problems)
    resolve_timeout_s = _read_global(reader, top.get("global"))
    templates = read_templates(reader, top.get("templates"))
    receivers = _unique(reader, top, "receivers", read_receiver, "receiver")
    intervals: dict[str, NamedTimeInterval] = {}
    for key in ("mute_time_intervals", "time_intervals"):
        for name, interval in _unique(
            reader, top, key, read_named_interval, "time interval"
        ).items():
            if name in intervals:
                reader.fail((key,), f"time interval {name!r} is not unique")
            intervals[name] = interval
    inhibit_rules = tuple(
        rule for _, rule in _each(reader, top, "inhibit_rules", read_inhibit_rule)
    )
    escalations = _unique(reader, top, "escalations", _read_escalation, "escalation")
    problems_before_oncall = len(reader.problems)
    oncall = _read_oncall(reader, top.get("oncall"))
    # A schedule that failed to load is reported once, not again at every target naming it.
    oncall_loaded = len(reader.problems) == problems_before_oncall
    route = _read_root(reader, top)
    if route is not None:
        _check_route_references(reader, route, receivers, intervals, escalations)
    _check_escalations(reader, escalations, receivers)
    if oncall_loaded:
        _check_oncall_targets(reader, receivers, oncall)
    if reader.problems or route is None:
        raise ConfigError(reader.problems)
    return AlertingConfig(
        file=document.file,
        route=route,
        receivers=receivers,
        inhibit_rules=inhibit_rules,
        time_intervals=intervals,
        escalations=escalations,
        oncall=oncall,
        resolve_timeout_s=resolve_timeout_s,
        templates=templates,
        warnings=tuple(reader.warnings),
    )


def _read_global(reader: ConfigReader, raw: Any) -> float:
    if raw is None:
        return DEFAULT_RESOLVE_TIMEOUT_S
    node = reader.mapping(raw, ("global",), ("resolve_timeout", *_IGNORED_GLOBALS), "global")
    if node is None:
        return DEFAULT_RESOLVE_TIMEOUT_S
    ignored = [key for key in node if key in _IGNORED_GLOBALS]
    if ignored:
        reader.warn(("global", ignored[0]), f"ignored (no such integration): {', '.join(ignored)}")
    seconds = reader.duration(node, ("global",), "resolve_timeout")
    return DEFAULT_RESOLVE_TIMEOUT_S if seconds is None else seconds


def _each(
    reader: ConfigReader, container: dict[str, Any], key: str, read: Any, base: Path = ()
) -> Iterator[tuple[int, Any]]:
    """(index, entry) for each entry of the list at `key` that `read` could build."""
    items = reader.sequence(container.get(key) or [], (*base, key), key.replace("_", " "))
    for index, item in enumerate(items or []):
        built = read(reader, item, (*base, key, index))
        if built is not None:
            yield index, built


def _unique(
    reader: ConfigReader,
    container: dict[str, Any],
    key: str,
    read: Any,
    what: str,
    base: Path = (),
) -> dict[str, Any]:
    """Named entries of a list, by name; a repeated name is a problem at its second place."""
    found: dict[str, Any] = {}
    for index, item in _each(reader, container, key, read, base):
        if item.name in found:
            reader.fail((*base, key, index, "name"), f"{what} name {item.name!r} is not unique")
            continue
        found[item.name] = item
    return found


def _read_root(reader: ConfigReader, top: dict[str, Any]) -> Route | None:
    if top.get("route") is None:
        reader.fail((), "`route` is required: no routes provided")
        return None
    route = read_route(reader, top["route"], ("route",), None)
    if route is None:
        return None
    if not route.receiver:
        reader.fail(("route",), "root route must specify a default receiver")
    if route.matchers:
        reader.fail(("route",), "root route must not have any matchers")
    if route.options.mute_time_intervals:
        reader.fail(
            ("route", "mute_time_intervals"), "root route must not have any mute time intervals"
        )
    if route.options.active_time_intervals:
        reader.fail(
            ("route", "active_time_intervals"), "root route must not have any active time intervals"
        )
    return route


def _check_route_references(
    reader: ConfigReader,
    root: Route,
    receivers: dict[str, Receiver],
    intervals: dict[str, NamedTimeInterval],
    escalations: dict[str, Escalation],
) -> None:
    for path, node in _route_paths(root, ("route",)):
        options = node.options
        if options.receiver and options.receiver not in receivers:
            reader.fail(
                (*path, "receiver"), f"undefined receiver {options.receiver!r} used in route"
            )
        if options.escalation and options.escalation not in escalations:
            reader.fail(
                (*path, "escalation"), f"undefined escalation {options.escalation!r} used in route"
            )
        for key, names in (
            ("mute_time_intervals", options.mute_time_intervals),
            ("active_time_intervals", options.active_time_intervals),
        ):
            for name in names:
                if name not in intervals:
                    reader.fail((*path, key), f"undefined time interval {name!r} used in route")


def _route_paths(node: Route, path: Path) -> Iterator[tuple[Path, Route]]:
    yield path, node
    for index, child in enumerate(node.routes):
        yield from _route_paths(child, (*path, "routes", index))


def _read_escalation(reader: ConfigReader, raw: Any, path: Path) -> Escalation | None:
    node = reader.mapping(raw, path, ("name", "steps"), "escalation")
    if node is None:
        return None
    name = reader.string(node, path, "name", required=True)
    steps: list[EscalationStep] = []
    items = reader.sequence(node.get("steps"), (*path, "steps"), "escalation steps")
    for index, item in enumerate(items or []):
        where = (*path, "steps", index)
        step = reader.mapping(item, where, ("after", "receivers"), "escalation step")
        if step is None:
            continue
        after = reader.duration(step, where, "after")
        names = reader.string_list(step, where, "receivers")
        if after is None and "after" not in step:
            reader.fail(where, "`after` is required (0s for the first step)")
        if not names:
            reader.fail(where, "`receivers` must name at least one receiver")
        if steps and after is not None and after < steps[-1].after_s:
            reader.fail((*where, "after"), "steps must be in order of `after`")
        steps.append(EscalationStep(after or 0.0, names))
    return Escalation(name, tuple(steps)) if name is not None else None


def _check_escalations(
    reader: ConfigReader, escalations: dict[str, Escalation], receivers: dict[str, Receiver]
) -> None:
    for index, escalation in enumerate(escalations.values()):
        for step_index, step in enumerate(escalation.steps):
            for name in step.receivers:
                if name not in receivers:
                    where = ("escalations", index, "steps", step_index, "receivers")
                    reader.fail(where, f"undefined receiver {name!r} used in escalation")


def _read_oncall(reader: ConfigReader, raw: Any) -> OnCall:
    if raw is None or reader.mapping(raw, ("oncall",), ("schedules",), "oncall") is None:
        return OnCall({})
    oncall, problems = read_oncall(reader.document)
    reader.problems.extend(problems)
    return oncall


def _check_oncall_targets(
    reader: ConfigReader, receivers: dict[str, Receiver], oncall: OnCall
) -> None:
    for receiver in receivers.values():
        for channel in receiver.channels:
            for target in _targets_of(channel.config):
                if not target.startswith(ONCALL_PREFIX):
                    continue
                layer, _, schedule_name = target.removeprefix(ONCALL_PREFIX).partition("@")
                schedule = oncall.schedules.get(schedule_name)
                if schedule is None:
                    problem = f"unknown on-call schedule {schedule_name!r}"
                elif layer not in schedule.layer_names:
                    problem = f"schedule {schedule_name!r} has no layer {layer!r}"
                else:
                    continue
                where = f"receivers.{receiver.name}.{channel.channel}"
                reader.problems.append(
                    ConfigProblem(reader.document.file, channel.line, where, problem)
                )


def _targets_of(config: ChannelConfig) -> tuple[str, ...]:
    if isinstance(config, SmsConfig | VoiceConfig):
        return config.to
    if isinstance(config, DingTalkConfig):
        return config.at_mobiles
    if isinstance(config, WeComConfig):
        return config.mentioned_mobiles
    return ()
