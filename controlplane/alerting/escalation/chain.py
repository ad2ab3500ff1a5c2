"""Escalation chains: ordered steps of delay and receivers, read from alerting.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from controlplane.engine.rules.durations import DurationError, parse_duration
from controlplane.yamlsource import ConfigError, ConfigProblem, YamlDocument

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class EscalationStep:
    """Notify `receivers` once `after` has passed since the group started firing."""

    after: timedelta
    receivers: tuple[str, ...]


@dataclass(frozen=True)
class EscalationChain:
    name: str
    steps: tuple[EscalationStep, ...]  # in order of `after`; a step's index is its identity


def load_chains(
    document: YamlDocument, prefix: Path = ("escalations",)
) -> Mapping[str, EscalationChain]:
    """Chains at `prefix`: `{name: {steps: [{after: 5m, receivers: [...]}]}}`; none if absent."""
    raw: Any = document.data
    for part in prefix:
        raw = raw.get(part) if isinstance(raw, dict) else None
    if raw is None:
        return {}
    problems: list[ConfigProblem] = []
    chains: dict[str, EscalationChain] = {}
    if not isinstance(raw, dict):
        raise ConfigError([document.problem(prefix, "must be a mapping of chain name to chain")])
    for name, body in raw.items():
        path = (*prefix, str(name))
        chain = _chain(document, str(name), body, path, problems)
        if chain is not None:
            chains[str(name)] = chain
    if problems:
        raise ConfigError(problems)
    return chains


def _chain(
    document: YamlDocument, name: str, body: Any, path: Path, problems: list[ConfigProblem]
) -> EscalationChain | None:
    if not isinstance(body, dict):
        problems.append(document.problem(path, "must be a mapping with `steps`"))
        return None
    problems.extend(document.problem((*path, str(k)), "unknown key") for k in body if k != "steps")
    steps_raw = body.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        problems.append(document.problem((*path, "steps"), "required, a list of at least one step"))
        return None
    steps: list[EscalationStep] = []
    for index, item in enumerate(steps_raw):
        step = _step(document, item, (*path, "steps", index), problems)
        if step is not None:
            steps.append(step)
    if len(steps) != len(steps_raw):
        return None
    afters = [step.after for step in steps]
    if afters != sorted(afters):
        # Steps are identified by position in the claims table; out-of-order lists would make a
        # reorder look like new steps, so the file must already say them in time order.
        problems.append(document.problem((*path, "steps"), "steps must be in order of `after`"))
        return None
    return EscalationChain(name, tuple(steps))


def _step(
    document: YamlDocument, item: Any, path: Path, problems: list[ConfigProblem]
) -> EscalationStep | None:
    if not isinstance(item, dict):
        problems.append(document.problem(path, "must be a mapping {after, receivers}"))
        return None
    before = len(problems)
    problems.extend(
        document.problem((*path, str(k)), "unknown key")
        for k in item
        if k not in ("after", "receivers")
    )
    seconds = 0.0
    try:
        seconds = parse_duration(item.get("after", "0s"))
    except DurationError as exc:
        problems.append(document.problem((*path, "after"), str(exc)))
    receivers = item.get("receivers")
    if (
        not isinstance(receivers, list)
        or not receivers
        or not all(isinstance(r, str) and r for r in receivers)
    ):
        problems.append(
            document.problem((*path, "receivers"), "required, a list of receiver names")
        )
    if len(problems) > before:
        return None
    assert isinstance(receivers, list)
    return EscalationStep(timedelta(seconds=seconds), tuple(receivers))
