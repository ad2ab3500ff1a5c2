"""When an ended voice call is placed again: only unanswered, within the per-callee limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controlplane.alerting.escalation import CallEnded, RedialBook, RedialPolicy

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
GROUP, RECEIVER, CALLEE = '{}:{alertname="SupplierDown"}', "phone-primary", "+8613800138000"


def _ended(call_id: str, status_code: str) -> CallEnded:
    return CallEnded(call_id, "out", CALLEE, status_code)


def _place(book: RedialBook, call_id: str, at: datetime, attempt: int = 1) -> None:
    book.placed([call_id], GROUP, RECEIVER, attempt, at)


def test_a_callee_who_hung_up_early_is_not_called_again() -> None:
    book = RedialBook()
    _place(book, "c1", T0)
    outcome = book.ended(_ended("c1", "200001"), escalating=True, now=T0 + timedelta(seconds=20))
    assert outcome is not None and outcome.decision == "answered"
    assert book.take_due(T0 + timedelta(hours=1), {GROUP}, {GROUP}) == []


def test_a_sixth_call_in_an_hour_waits_until_the_first_leaves_the_hour() -> None:
    book = RedialBook(RedialPolicy(attempts=6))
    redial_at = T0
    for n in range(5):  # five calls to the callee ten minutes apart, none answered
        _place(book, f"c{n}", T0 + timedelta(minutes=10 * n), attempt=n + 1)
        ended_at = T0 + timedelta(minutes=10 * n, seconds=30)
        outcome = book.ended(_ended(f"c{n}", "200003"), escalating=True, now=ended_at)
        assert outcome is not None and outcome.redial_at is not None
        redial_at = outcome.redial_at
        book.take_due(redial_at, {GROUP}, {GROUP})  # dialled (here: taken)
    assert redial_at == T0 + timedelta(hours=1)  # not at 41 m: five calls an hour at most


def test_a_redial_waiting_while_the_group_is_muted_goes_out_once_it_is_not() -> None:
    book = RedialBook()
    _place(book, "c1", T0)
    book.ended(_ended("c1", "200010"), escalating=True, now=T0 + timedelta(seconds=30))
    later = T0 + timedelta(minutes=5)
    assert book.take_due(later, ready=set(), escalating={GROUP}) == []
    [redial] = book.take_due(later, ready={GROUP}, escalating={GROUP})
    assert (redial.callees, redial.attempt) == ((CALLEE,), 2)
    assert book.take_due(later, ready={GROUP}, escalating={GROUP}) == []  # taken once


def test_the_attempt_count_is_configurable_and_at_least_one() -> None:
    book = RedialBook(RedialPolicy(attempts=1))
    _place(book, "c1", T0)
    outcome = book.ended(_ended("c1", "200002"), escalating=True, now=T0 + timedelta(seconds=30))
    assert outcome is not None and outcome.decision == "gave_up"
    with pytest.raises(ValueError):
        RedialPolicy(attempts=0)
