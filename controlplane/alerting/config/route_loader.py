"""Building the routing tree from a `route:` block, with Alertmanager's inheritance rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from controlplane.alerting.config.matcher_fields import read_matcher_fields
from controlplane.alerting.config.matchers import LABEL_NAME, sorted_matchers
from controlplane.alerting.config.reader import ConfigReader
from controlplane.alerting.config.routes import Route, RouteOptions
from controlplane.engine.rules.fields import Path

ROUTE_KEYS = (
    "receiver",
    "group_by",
    "continue",
    "matchers",
    "match",
    "match_re",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "mute_time_intervals",
    "active_time_intervals",
    "routes",
    "escalation",  # ours: the escalation chain alerts of this node follow
)


def read_route(reader: ConfigReader, raw: Any, path: Path, parent: Route | None) -> Route | None:
    """One route node and its children; None (with problems recorded) when the node is unusable."""
    node = reader.mapping(raw, path, ROUTE_KEYS, "route")
    if node is None:
        return None
    inherited = parent.options if parent is not None else RouteOptions(receiver="")
    options = _read_options(reader, node, path, inherited)
    matchers = read_matcher_fields(reader, node, path, "matchers", "match", "match_re")
    continue_matching = node.get("continue", False)
    if not isinstance(continue_matching, bool):
        reader.fail((*path, "continue"), "expected true or false")
        continue_matching = False
    route = Route(
        options=options,
        matchers=sorted_matchers(matchers),
        continue_matching=continue_matching,
        parent=parent,
        line=reader.line(path),
    )
    children = reader.sequence(node.get("routes") or [], (*path, "routes"), "routes")
    for index, child in enumerate(children or []):
        built = read_route(reader, child, (*path, "routes", index), route)
        if built is not None:
            route.routes.append(built)
    return route


def _read_options(
    reader: ConfigReader, node: dict[str, Any], path: Path, inherited: RouteOptions
) -> RouteOptions:
    options = replace(
        inherited,
        receiver=reader.string(node, path, "receiver") or inherited.receiver,
        escalation=reader.string(node, path, "escalation") or inherited.escalation,
        # Alertmanager does not inherit these two: each node names its own.
        mute_time_intervals=reader.string_list(node, path, "mute_time_intervals"),
        active_time_intervals=reader.string_list(node, path, "active_time_intervals"),
    )
    options = _with_group_by(reader, node, path, options)
    timings = {}
    for key in ("group_wait", "group_interval", "repeat_interval"):
        seconds = reader.duration(node, path, key)
        if seconds is not None and seconds == 0 and key != "group_wait":
            reader.fail((*path, key), f"{key} cannot be zero")
        elif seconds is not None:
            timings[key] = seconds
    return replace(
        options,
        group_wait_s=timings.get("group_wait", options.group_wait_s),
        group_interval_s=timings.get("group_interval", options.group_interval_s),
        repeat_interval_s=timings.get("repeat_interval", options.repeat_interval_s),
    )


def _with_group_by(
    reader: ConfigReader, node: dict[str, Any], path: Path, options: RouteOptions
) -> RouteOptions:
    names = reader.string_list(node, path, "group_by")
    labels = [name for name in names if name != "..."]
    for index, name in enumerate(names):
        if name != "..." and not LABEL_NAME.match(name):
            reader.fail((*path, "group_by", index), f"invalid label name {name!r} in group_by")
        elif name != "..." and name in names[:index]:
            reader.fail((*path, "group_by", index), f"duplicated label {name!r} in group_by")
    if "..." in names and labels:
        reader.fail(
            (*path, "group_by"), "cannot have wildcard group_by (`...`) and other labels at once"
        )
    # As in Alertmanager: labels replace the parent's grouping, `...` alone switches to all
    # labels, and an empty list changes nothing.
    if labels:
        return replace(options, group_by=frozenset(labels), group_by_all=False)
    if "..." in names:
        return replace(options, group_by_all=True)
    return options
