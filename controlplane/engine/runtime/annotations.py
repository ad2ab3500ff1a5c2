"""A round's annotations, rendered when read: most alerts' are never read before the next round.

Every round has the annotations of every alert a rule holds, as Prometheus has them, but only a
few are read: those of alerts whose durable state changed (saved), of transitions (handed to the
alerting stage), and all of them when someone asks the API. Rendering every alert's templates
every round would cost more than evaluating the rules when hundreds of alerts are pending, so
each alert's annotations are rendered from what the round saw the first time they are read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from controlplane.engine.alerts import Alert


class RenderedOnRead(Mapping[str, Mapping[str, str]]):
    """Alert fingerprint → annotations, rendered once per round, on the first read."""

    __slots__ = ("_alerts", "_render", "_rendered")

    def __init__(
        self, alerts: Mapping[str, Alert], render: Callable[[Alert], dict[str, str]]
    ) -> None:
        self._alerts = alerts  # as the round left them: the value the annotations show
        self._render = render
        self._rendered: dict[str, dict[str, str]] = {}

    def __getitem__(self, fingerprint: str) -> dict[str, str]:
        rendered = self._rendered.get(fingerprint)
        if rendered is None:
            rendered = self._rendered[fingerprint] = self._render(self._alerts[fingerprint])
        return rendered

    def __iter__(self) -> Iterator[str]:
        return iter(self._alerts)

    def __len__(self) -> int:
        return len(self._alerts)
