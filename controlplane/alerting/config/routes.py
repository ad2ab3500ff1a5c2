"""The routing tree: which route nodes an alert reaches, and the group it joins there.

Semantics are Alertmanager's (dispatch/route.go): a depth-first, left-to-right search where the
first matching child ends the search unless it has `continue`, and a node whose children all miss
is itself the match. Options are resolved once at load, children inheriting from their parent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from controlplane.alerting.config.matchers import (
    Matcher,
    all_match,
    format_label_set,
    format_matchers,
)

# Alertmanager's DefaultRouteOpts.
DEFAULT_GROUP_WAIT_S = 30.0
DEFAULT_GROUP_INTERVAL_S = 300.0
DEFAULT_REPEAT_INTERVAL_S = 4 * 3600.0


@dataclass(frozen=True)
class RouteOptions:
    """A node's effective settings, inherited from its parent unless set on the node.

    Exception, as in Alertmanager: mute and active time intervals are never inherited.
    """

    receiver: str
    group_by: frozenset[str] = frozenset()
    group_by_all: bool = False
    group_wait_s: float = DEFAULT_GROUP_WAIT_S
    group_interval_s: float = DEFAULT_GROUP_INTERVAL_S
    repeat_interval_s: float = DEFAULT_REPEAT_INTERVAL_S
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    escalation: str | None = None


@dataclass(eq=False)
class Route:
    """One node of the routing tree."""

    options: RouteOptions
    matchers: tuple[Matcher, ...] = ()  # sorted as Alertmanager sorts them
    continue_matching: bool = False
    parent: Route | None = field(default=None, repr=False)
    routes: list[Route] = field(default_factory=list)
    line: int | None = None  # where the node starts in its file, for messages

    @property
    def receiver(self) -> str:
        return self.options.receiver

    def key(self) -> str:
        """The node's path of matcher sets, e.g. `{}/{severity="critical"}`."""
        own = format_matchers(self.matchers)
        return own if self.parent is None else f"{self.parent.key()}/{own}"

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The nodes an alert with `labels` is routed to, in the order Alertmanager finds them."""
        if not all_match(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            found.extend(matched)
            if matched and not child.continue_matching:
                break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The alert's labels this node groups by (all of them under `group_by: ['...']`)."""
        if self.options.group_by_all:
            return dict(labels)
        return {name: value for name, value in labels.items() if name in self.options.group_by}

    def group_key(self, labels: Mapping[str, str]) -> str:
        """Alertmanager's group key: route key, `:`, the group labels as a label set."""
        return f"{self.key()}:{format_label_set(self.group_labels(labels))}"

    def walk(self) -> Iterator[Route]:
        """This node and every node below it, depth first."""
        yield self
        for child in self.routes:
            yield from child.walk()


def receivers_for(root: Route, labels: Mapping[str, str]) -> list[str]:
    """Receiver names an alert reaches, one per matched node (repeats kept, as amtool shows)."""
    return [route.receiver for route in root.match(labels)]
