"""Which escalation steps are due now: each step of each firing, unacknowledged group, once."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from controlplane.alerting.config import Escalation, EscalationStep
from controlplane.alerting.escalation.store import Episode, EscalationStore
from smsplatform.clock import Clock

log = logging.getLogger(__name__)


# The index of a DueStep that redials an unanswered voice call: not a step of the chain.
REDIAL_STEP = -1


@dataclass(frozen=True)
class DueStep:
    """A step the caller must now send: it is claimed, so no other run or replica sends it."""

    group_key: str
    chain: str
    index: int
    step: EscalationStep
    started_at: datetime
    episode_id: int


class EscalationTracker:
    """Drives escalation episodes kept in the database, so a restart neither repeats nor skips."""

    def __init__(
        self, store: EscalationStore, chains: Mapping[str, Escalation], clock: Clock
    ) -> None:
        self._store = store
        self._chains = chains
        self._clock = clock

    def start(
        self,
        group_key: str,
        chain: str,
        fingerprints: Iterable[str],
        started_at: datetime | None = None,
    ) -> int:
        """Begin (or join) the episode of a group that started firing at `started_at`; returns
        the episode's id.

        Pass the group's firing start, not the time of the call, so replicas and reruns that see
        the same firing land on the same episode.
        """
        if chain not in self._chains:
            raise KeyError(f"no escalation chain named {chain!r}")
        at = started_at or self._clock.now()
        return self._store.open_episode(group_key, chain, at, fingerprints)

    def resolve(self, group_key: str, at: datetime | None = None) -> None:
        """The group resolved: its episode stops escalating."""
        if self._store.resolve(group_key, at or self._clock.now()):
            log.info("escalation.resolved group_key=%s", group_key)

    def due(self, now: datetime | None = None) -> list[DueStep]:
        """The steps whose time has come, claimed for the caller; overdue ones too, each once."""
        return self.claim_due(self.active(), now)

    def active(self) -> list[Episode]:
        """The episodes still escalating: neither acknowledged nor resolved."""
        return self._store.active()

    def claim_due(self, episodes: Iterable[Episode], now: datetime | None = None) -> list[DueStep]:
        """Of `episodes`, the steps whose time has come, claimed for the caller, each once."""
        at = now or self._clock.now()
        due: list[DueStep] = []
        for episode in episodes:
            chain = self._chains.get(episode.chain)
            if chain is None:
                log.warning(
                    "escalation.unknown_chain group_key=%s chain=%s",
                    episode.group_key,
                    episode.chain,
                )
                continue
            for index, step in enumerate(chain.steps):
                if (
                    index in episode.claimed_steps
                    or episode.started_at + timedelta(seconds=step.after_s) > at
                ):
                    continue
                if not self._store.claim(episode.id, index, at):
                    continue  # another replica took it between our read and our claim
                log.info(
                    "escalation.step group_key=%s chain=%s step=%d after_s=%.0f receivers=%s",
                    episode.group_key,
                    chain.name,
                    index,
                    step.after_s,
                    ",".join(step.receivers),
                )
                due.append(
                    DueStep(
                        episode.group_key, chain.name, index, step, episode.started_at, episode.id
                    )
                )
        return due
