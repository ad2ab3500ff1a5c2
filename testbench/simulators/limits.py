"""Rate limits a supplier enforces: an API token bucket and rolling per-recipient windows."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from testbench.simulators.plan import LimitRule
from testbench.simulators.records import SubmitAttempt


class TokenBucket:
    """`qps` tokens a second up to `capacity`; times are a monotonic clock's seconds."""

    def __init__(self, qps: float, capacity: float, now: float) -> None:
        self.qps = qps
        self.capacity = capacity
        self._tokens = capacity
        self._at = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.qps)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class RecipientLimiter:
    """Counts accepted submits per recipient key in rolling windows (the supplier's anti-bombing).

    Each rule keeps the accept times of its keys for one window; `check` names the first rule a
    new submit would break, `record` counts an accepted one.
    """

    # Keys whose windows emptied are swept every so many records, to bound memory under load.
    SWEEP_EVERY = 10_000

    def __init__(self, rules: Sequence[LimitRule]) -> None:
        self.rules = tuple(rules)
        self._times: list[dict[str, deque[float]]] = [{} for _ in self.rules]
        self._records = 0

    def check(self, phone: str, attempt: SubmitAttempt, now: float) -> LimitRule | None:
        for index, rule in enumerate(self.rules):
            if not _applies(rule, attempt):
                continue
            times = self._times[index].get(_key(rule, phone, attempt))
            if times is None:
                continue
            _expire(times, now - rule.window_s)
            if len(times) >= rule.limit:
                return rule
        return None

    def record(self, phone: str, attempt: SubmitAttempt, now: float) -> None:
        for index, rule in enumerate(self.rules):
            if _applies(rule, attempt):
                key = _key(rule, phone, attempt)
                times = self._times[index].setdefault(key, deque())
                _expire(times, now - rule.window_s)
                times.append(now)
        self._records += 1
        if self._records % self.SWEEP_EVERY == 0:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        for index, rule in enumerate(self.rules):
            keys = self._times[index]
            for key in list(keys):
                _expire(keys[key], now - rule.window_s)
                if not keys[key]:
                    del keys[key]


def _applies(rule: LimitRule, attempt: SubmitAttempt) -> bool:
    return not rule.classes or attempt.message_class in rule.classes


def _key(rule: LimitRule, phone: str, attempt: SubmitAttempt) -> str:
    if rule.per == "phone":
        return phone
    if rule.per == "phone_signature":
        return f"{phone}|{attempt.sign_name or ''}"
    return f"{phone}|{attempt.sign_name or ''}|{attempt.template_code or ''}"


def _expire(times: deque[float], before: float) -> None:
    while times and times[0] <= before:
        times.popleft()
