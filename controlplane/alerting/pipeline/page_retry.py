"""When an escalation page that reached nobody is paged again: the retry policy.

A page whose every channel failed (after each channel's own retries) is paged again after
`first_s`, then twice as long after each further failure, at most `max_s` apart, for as long as
its group escalates unmuted (not acknowledged, silenced or resolved). A page claimed but never
finished, because the process sending it died, is paged again once `abandoned_after_s` has
passed since its claim: longer than any send takes, so a page still being sent is not sent
twice. Due times are read from the notification log, not kept in memory, so a restarted process
or another replica finds the same retry due at the same time, and the retry's claim lets only
one of them send it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from controlplane.alerting.pipeline.notification_log import CLAIMED, FAILED, LogEntry

DEFAULT_FIRST_S = 60.0
DEFAULT_MAX_S = 300.0
# A send ends well within this: each channel's tries are bounded by the HTTP timeouts (10 s) and
# the retry waits (at most 10 s), and a receiver has a few channels.
DEFAULT_ABANDONED_AFTER_S = 300.0


@dataclass(frozen=True)
class PageRetry:
    """The wait before paging again: `first_s`, doubling per failure, capped at `max_s`; and
    how long a page may stay claimed before it counts as abandoned."""

    first_s: float = DEFAULT_FIRST_S
    max_s: float = DEFAULT_MAX_S
    abandoned_after_s: float = DEFAULT_ABANDONED_AFTER_S

    def __post_init__(self) -> None:
        if self.first_s <= 0 or self.max_s < self.first_s or self.abandoned_after_s <= 0:
            raise ValueError("page retry: first_s > 0, max_s >= first_s and abandoned_after_s > 0")

    def delay(self, failures: int) -> timedelta:
        """The wait after the `failures`-th page in a row that reached nobody (1-based)."""
        return timedelta(seconds=min(self.max_s, self.first_s * 2.0 ** (failures - 1)))

    def due_at(self, page: FailedPage) -> datetime:
        """When the page is paged again: after the failure's wait, or once it is abandoned."""
        wait = (
            timedelta(seconds=self.abandoned_after_s)
            if page.abandoned
            else self.delay(page.failures)
        )
        return page.failed.claimed_at + wait


DEFAULT_PAGE_RETRY = PageRetry()


@dataclass(frozen=True)
class FailedPage:
    """A receiver whose latest page of a group reached nobody (it failed, or it was claimed and
    never finished), and its latest page that went out."""

    group_key: str
    failed: LogEntry
    last_sent: LogEntry | None

    @property
    def abandoned(self) -> bool:
        """Claimed and never finished: the process sending it died (or is sending it still)."""
        return self.failed.status == CLAIMED

    @property
    def failures(self) -> int:
        """Pages to the receiver in a row that reached nobody (steps are numbered per claim)."""
        sent_step = -1 if self.last_sent is None else self.last_sent.step
        return self.failed.step - sent_step


def is_failed_page(latest: LogEntry) -> bool:
    """The latest page-log entry is a page (it names firing alerts) that has not reached anyone:
    it failed, or it is claimed and unfinished (`due_retries` tells sending from abandoned)."""
    return latest.status in (FAILED, CLAIMED) and bool(latest.firing)


def due_retries(
    failed: Sequence[FailedPage],
    escalating_since: Mapping[str, datetime],
    policy: PageRetry,
    now: datetime,
) -> list[FailedPage]:
    """The pages to page again now: of groups still escalating, failed in this episode (a page
    that failed before the group last resolved is not this episode's to retry), and whose wait
    is over."""
    return [
        page
        for page in failed
        if page.group_key in escalating_since
        and page.failed.claimed_at >= escalating_since[page.group_key]
        and policy.due_at(page) <= now
    ]
