"""The inhibit stage: a target alert is muted while a firing source alert matches the rule."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from controlplane.alerting.config import InhibitRule


class Inhibitor:
    """Pure: given the firing alerts' labels, tells whether an alert is inhibited."""

    def __init__(self, rules: Sequence[InhibitRule]) -> None:
        self._rules = tuple(rules)

    @property
    def has_rules(self) -> bool:
        """Without rules nothing is inhibited, and the firing alerts need not be gathered."""
        return bool(self._rules)

    def inhibited(self, labels: Mapping[str, str], firing: Iterable[Mapping[str, str]]) -> bool:
        for rule in self._rules:
            if not rule.is_target(labels):
                continue
            for source in firing:
                # An alert never inhibits itself (Alertmanager: a source that is also a target
                # with the same labels must not mute itself).
                if source is labels or dict(source) == dict(labels):
                    continue
                if rule.inhibits(source, labels):
                    return True
        return False
