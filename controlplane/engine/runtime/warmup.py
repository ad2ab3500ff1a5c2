"""The warm-up after a start: alerts restored from storage are held until their windows refill.

Alert state survives a restart (storage), but windows live in memory and start empty, so the
first evaluations after a start see a window that holds only the seconds since the start. An
empty or part-filled window is no evidence that a restored alert is over: `delivery_rate < 0.9
&& total >= 50` is false on it, and every label set looks silent. So until a rule's window
length of live data has arrived since the engine started (its warm-up):

- a restored pending or firing alert is held when its condition does not hold (or its label set
  is missing): a firing alert stays firing with its `started_at`, a pending one keeps its
  `active_since`;
- a restored alert in its `keep_firing_for` is not held: its condition was already false before
  the start, so the countdown goes on from the stored `keep_firing_since` and it resolves on
  time (unless the data since the start makes its condition hold again);
- a silent (no-data) label set changes nothing: `on_no_data: alerting` does not fire on a window
  that is empty only because the engine just started, and nothing resolves on it;
- a condition that does hold on the data seen since the start still fires: that data is real.

Once the warm-up is over, a restored alert whose label set has sent nothing since the start is
a label set with no data (stream_rules.alert_samples), judged by its rule's `on_no_data`: it
resolves under `ok` (a label set that vanishes resolves), stays as it is under `keep`, and stays
firing under `alerting`, whose alert is about exactly that silence, until data comes back.

Replaying the bus instead (a JetStream consumer from `now - window`) was considered: the feeder's
durable consumers resume after their last ack, so the events before a restart are not
redelivered, and a second, time-based consumer per source would double-count what the durable
ones still hold unacked. The hold is exact whatever the bus keeps, so it is the choice here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from controlplane.engine.alerts import Sample, fingerprint


@dataclass(frozen=True)
class WarmUp:
    """When the engine started, which is when its windows began filling."""

    started_at: datetime

    def warming(self, window_s: float, at: datetime) -> bool:
        """Whether a window `window_s` long still holds less than its length of live data."""
        return at < self.started_at + timedelta(seconds=window_s)


def held_during_warm_up(
    samples: Sequence[Sample], restored: Collection[str]
) -> tuple[list[Sample], set[str]]:
    """The samples a warming rule evaluates, and the fingerprints whose alerts it holds.

    No-data samples are left out and held: during the warm-up silence means nothing.
    """
    evaluated = [sample for sample in samples if not sample.no_data]
    held = set(restored) | {fingerprint(sample.labels) for sample in samples if sample.no_data}
    return evaluated, held
