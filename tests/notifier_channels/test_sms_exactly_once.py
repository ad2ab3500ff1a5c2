"""Alert SMS are sent once however the send tier fails: retried POSTs carry one Idempotency-Key,
and the supplier-direct fallback is taken only when the send tier provably took nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from notifier_samples import notification
from send_api_world import ALERTS_TOKEN, API_URL, Fault, SendApiWorld, send_api_world

from notifiers.base import Notification, NotifyResult, Outcome
from notifiers.retry import send_with_retry
from notifiers.sms import SmsConfig, SmsNotifier
from notifiers.sms_direct import AlertTemplate, DirectSms
from sendtier.settings import TemplateSettings
from smsplatform.clock import ManualClock
from suppliers.base import Balance, SubmitErrorClass, SubmitOutcome, SubmitRequest
from suppliers.templates import Template

PHONES = ("13800138000", "13900139000")


def refused(error_class: SubmitErrorClass) -> SubmitOutcome:
    return SubmitOutcome(accepted=False, latency_ms=5.0, error_code="E", error_class=error_class)


@dataclass
class FakeSupplier:
    """A supplier's API (outside the system): answers each number from its script, then
    accepts; records every submit."""

    name: str = "aliyun"
    dialect: str = "aliyun"
    script: dict[str, list[SubmitOutcome]] = field(default_factory=dict)
    submitted: list[SubmitRequest] = field(default_factory=list)

    async def submit(self, request: SubmitRequest) -> SubmitOutcome:
        self.submitted.append(request)
        answers = self.script.get(request.phone)
        if answers:
            return answers.pop(0)
        return SubmitOutcome(
            accepted=True, latency_ms=5.0, supplier_message_id=f"sid-{request.phone}"
        )

    async def balance(self) -> Balance | None:
        return None

    async def aclose(self) -> None:
        return None

    def phones(self) -> list[str]:
        return [request.phone for request in self.submitted]


def direct_through(supplier: FakeSupplier) -> DirectSms:
    template = Template.compile(
        TemplateSettings(id="alert", message_class="notification", text="[{severity}] {summary}")
    )
    return DirectSms({supplier.name: supplier}, AlertTemplate(template, "监控", {}))


async def no_sleep(_: float) -> None:
    return None


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[SendApiWorld]:
    async with send_api_world(sqlite_url) as started:
        yield started


async def deliver(
    world: SendApiWorld,
    faults: list[Fault],
    alert: Notification,
    direct: DirectSms | None = None,
    attempts: int = 4,
) -> tuple[NotifyResult, list[str | None], int]:
    """Send `alert` with the pipeline's retries over a network failing as `faults` says; the
    result, each request's Idempotency-Key, and how many requests reached the API."""
    client, network = world.client(*faults)
    notifier = SmsNotifier(
        SmsConfig(API_URL, ALERTS_TOKEN), client=client, direct=direct, sleep=no_sleep
    )
    result = await send_with_retry(
        notifier,
        alert,
        attempts=attempts,
        base_delay_s=0.0,
        max_delay_s=0.0,
        sleep=no_sleep,
        clock=ManualClock(),
    )
    await client.aclose()
    return result, network.keys, network.arrived


async def test_a_post_retried_after_its_answer_was_lost_sends_each_sms_once(
    world: SendApiWorld,
) -> None:
    result, keys, arrived = await deliver(world, ["lose"], notification(recipients=PHONES))

    assert result.outcome is Outcome.DELIVERED, result.detail
    assert arrived == 2
    assert len(set(keys)) == 1 and keys[0] is not None, "the retry carries the first try's key"
    assert sorted(m.phone for m in await world.published()) == ["+8613800138000", "+8613900139000"]


async def test_each_notification_has_its_own_key_even_with_the_same_text(
    world: SendApiWorld,
) -> None:
    first, first_keys, _ = await deliver(world, [], notification(recipients=PHONES))
    repeat, repeat_keys, _ = await deliver(world, [], notification(recipients=PHONES))

    assert first.outcome is repeat.outcome is Outcome.DELIVERED
    assert first_keys != repeat_keys, "a repeat reminder is a new send, not a replay"
    assert len(await world.published()) == 4


async def test_after_a_lost_answer_a_send_tier_that_goes_down_is_not_bypassed(
    world: SendApiWorld,
) -> None:
    supplier = FakeSupplier()
    faults: list[Fault] = ["lose", "refuse", "refuse"]
    alert = notification(recipients=PHONES)
    result, _, _ = await deliver(world, faults, alert, direct=direct_through(supplier))

    assert result.outcome is Outcome.DELIVERED, result.detail
    assert supplier.submitted == [], "the send tier may have taken it: never also direct"
    assert len(await world.published()) == 2


async def test_a_gateway_timeout_is_not_bypassed(world: SendApiWorld) -> None:
    supplier = FakeSupplier()
    alert = notification(recipients=PHONES)
    result, _, arrived = await deliver(
        world, ["gateway_timeout"], alert, direct=direct_through(supplier)
    )

    assert result.outcome is Outcome.DELIVERED, result.detail
    assert (arrived, supplier.submitted) == (2, [])
    assert len(await world.published()) == 2


async def test_a_send_tier_whose_bus_took_nothing_is_bypassed(world: SendApiWorld) -> None:
    await world.bus.close()  # the API answers 503 with "sent": "none"
    supplier = FakeSupplier()
    alert = notification(recipients=PHONES)
    result, _, arrived = await deliver(world, [], alert, direct=direct_through(supplier))

    assert result.outcome is Outcome.DELIVERED, result.detail
    assert arrived == 2
    assert sorted(supplier.phones()) == ["+8613800138000", "+8613900139000"]


async def test_a_notification_that_went_direct_stays_direct_and_never_repeats_a_number(
    world: SendApiWorld,
) -> None:
    supplier = FakeSupplier(
        script={
            "+8613800138000": [refused(SubmitErrorClass.TIMEOUT)],  # may have been sent
            "+8613900139000": [refused(SubmitErrorClass.RETRIABLE)],  # was not
        }
    )
    faults: list[Fault] = ["refuse", "refuse"]  # down for the first try, back for the second
    alert = notification(recipients=PHONES)
    result, _, arrived = await deliver(world, faults, alert, direct=direct_through(supplier))

    assert result.outcome is Outcome.DELIVERED, result.detail
    assert supplier.phones() == ["+8613800138000", "+8613900139000", "+8613900139000"]
    assert arrived == 0
    assert await world.published() == []


async def test_a_direct_send_left_unconfirmed_is_final_for_the_channel(
    world: SendApiWorld,
) -> None:
    supplier = FakeSupplier(script={"+8613800138000": [refused(SubmitErrorClass.TIMEOUT)]})
    alert = notification(recipients=PHONES[:1])
    result, _, _ = await deliver(
        world, ["refuse", "refuse"], alert, direct=direct_through(supplier)
    )

    assert (result.outcome, result.error_code) == (Outcome.FAILED, "unconfirmed")
    assert supplier.phones() == ["+8613800138000"]
