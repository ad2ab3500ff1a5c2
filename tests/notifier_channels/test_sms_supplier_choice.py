"""Alert SMS never ride on an ejected supplier: through the send tier pinned, or supplier-direct."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from notifier_samples import notification
from sms_world import (
    ACCOUNTS,
    ALERTS_TOKEN,
    EJECTED,
    HEALTHY,
    PHONES,
    eventually,
    free_port,
    publish_table,
    send_tier,
    sendtier_settings,
    simulators,
    table,
)

from controlplane.actions.routing_store import RoutingStore
from controlplane.alerting.supplier_feed import SupplierHealthFeed
from controlplane.alerting.supplier_health import SupplierHealth
from controlplane.alerting.wiring import build_alerting
from controlplane.settings import AlertingSettings
from controlplane.storage import CONTROL_PLANE_HISTORY, Database
from notifiers.base import Outcome
from notifiers.sms import SmsConfig, SmsNotifier
from notifiers.sms_direct_setup import direct_sms
from sendtier.settings import SendTierSettings
from smsplatform.bus import SUBMIT, MemoryBus
from smsplatform.bus.liveness import LivenessRegistry
from smsplatform.clock import system_clock
from smsplatform.config.yamlsource import ConfigError
from smsplatform.contracts import OutboundMessage


async def no_sleep(_: float) -> None:
    return None


async def test_alert_sms_through_the_send_tier_are_pinned_to_a_supplier_that_is_not_ejected(
    sqlite_url: str,
    bus: MemoryBus,
) -> None:
    health = SupplierHealth(system_clock)
    feed = SupplierHealthFeed(
        bus, health, durable="alerting-health-test", liveness=LivenessRegistry()
    )
    submitted = await bus.subscribe(SUBMIT, "test-watch")
    try:
        async with simulators() as sims, send_tier(sendtier_settings(sims, sqlite_url), bus) as api:
            await feed.start()
            # The control plane ejects aliyun-main: dispatch and the alert path both read it.
            await publish_table(bus, table(1, {EJECTED: "ejected", HEALTHY: "active"}))
            await eventually(lambda: health.version == 1, "the health view to take table 1")
            notifier = SmsNotifier(SmsConfig(api, ALERTS_TOKEN), ranking=health)
            try:
                for _ in range(3):
                    result = await notifier.send(notification(recipients=PHONES))
                    assert result.outcome is Outcome.DELIVERED, result.detail
            finally:
                await notifier.aclose()
            await eventually(lambda: sims.accepted(HEALTHY) == 6, "six submits at tencent-backup")
            assert sims.accepted(EJECTED) == 0
            deliveries = await submitted.fetch(10, timeout=0.5)
            pins = {
                msgspec.msgpack.decode(d.data, type=OutboundMessage).pinned_supplier
                for d in deliveries
            }
            assert pins == {HEALTHY}
    finally:
        await feed.stop()


async def test_alert_sms_go_supplier_direct_past_the_ejected_supplier_when_the_send_tier_is_down(
    sqlite_url: str,
) -> None:
    health = SupplierHealth(system_clock)
    health.apply(table(3, {EJECTED: "ejected", HEALTHY: "active"}))
    async with simulators() as sims:
        settings = sendtier_settings(sims, sqlite_url)
        direct = direct_sms(settings, "sendtier.yaml", ALERTS_TOKEN, "alert", system_clock)
        down = f"http://127.0.0.1:{free_port()}"  # nothing listens: the send tier is down
        notifier = SmsNotifier(
            SmsConfig(down, ALERTS_TOKEN), ranking=health, direct=direct, sleep=no_sleep
        )
        try:
            result = await notifier.send(notification(recipients=PHONES))
        finally:
            await notifier.aclose()
            await direct.aclose()
        assert result.outcome is Outcome.DELIVERED, result.detail
        assert result.reference is not None and result.reference.count(f"{HEALTHY}:") == 2
        assert (sims.accepted(HEALTHY), sims.accepted(EJECTED)) == (2, 0)


async def test_with_no_routing_table_yet_direct_sends_use_the_configured_suppliers_in_order(
    sqlite_url: str,
) -> None:
    async with simulators() as sims:
        settings = sendtier_settings(sims, sqlite_url)
        direct = direct_sms(settings, "sendtier.yaml", ALERTS_TOKEN, "alert", system_clock)
        down = f"http://127.0.0.1:{free_port()}"
        notifier = SmsNotifier(
            SmsConfig(down, ALERTS_TOKEN),
            ranking=SupplierHealth(system_clock),
            direct=direct,
            sleep=no_sleep,
        )
        try:
            result = await notifier.send(notification(recipients=PHONES[:1]))
        finally:
            await direct.aclose()
        assert result.outcome is Outcome.DELIVERED, result.detail
        assert (sims.accepted(EJECTED), sims.accepted(HEALTHY)) == (1, 0)


async def test_a_send_tier_that_refuses_is_not_bypassed(sqlite_url: str, bus: MemoryBus) -> None:
    """A 401 is the send tier's answer, not an outage: going direct would dodge its policy."""
    async with simulators() as sims, send_tier(sendtier_settings(sims, sqlite_url), bus) as api:
        settings = sendtier_settings(sims, sqlite_url)
        direct = direct_sms(settings, "sendtier.yaml", ALERTS_TOKEN, "alert", system_clock)
        notifier = SmsNotifier(
            SmsConfig(api, "not-the-alerts-token"), direct=direct, sleep=no_sleep
        )
        try:
            result = await notifier.send(notification(recipients=PHONES))
        finally:
            await notifier.aclose()
            await direct.aclose()
        assert (result.outcome, result.error_code) == (Outcome.FAILED, "401")
        assert (sims.accepted(HEALTHY), sims.accepted(EJECTED)) == (0, 0)


@pytest.mark.parametrize(
    ("templates", "template_problem"),
    [
        ([], "no template 'alert'"),
        (
            [{"id": "alert", "message_class": "notification", "text": "验证码{code}"}],
            "template 'alert' must take exactly severity and summary, not code",
        ),
    ],
)
def test_a_send_tier_file_unfit_for_alert_sms_is_refused_at_start_up(
    templates: list[dict[str, str]], template_problem: str
) -> None:
    settings = SendTierSettings.model_validate(
        {
            "suppliers": [
                {"name": HEALTHY, "account": ACCOUNTS[HEALTHY], "base_url": "http://127.0.0.1:1"}
            ],
            "tenants": [{"name": "shop", "token": "shop-token-0123456789", "signatures": ["店"]}],
            "templates": templates,
        }
    )
    with pytest.raises(ConfigError) as caught:
        direct_sms(settings, "sendtier.yaml", ALERTS_TOKEN, "alert", system_clock)
    [tenant, template] = [str(problem) for problem in caught.value.problems]
    assert tenant.startswith("sendtier.yaml: tenants: no tenant holds alerting.sms_token")
    assert template == f"sendtier.yaml: templates: {template_problem}"


async def test_after_a_restart_the_alert_path_reads_the_routing_table_in_force_from_storage(
    sqlite_url: str, bus: MemoryBus, tmp_path: Path
) -> None:
    # The control plane stored (and published, before this start) a table ejecting aliyun-main;
    # the alert path's durable feed will not be handed that version again.
    database = Database(sqlite_url)
    database.upgrade(CONTROL_PLANE_HISTORY)
    assert RoutingStore(database).add(table(3, {EJECTED: "ejected", HEALTHY: "active"}), {})
    config = tmp_path / "alerting.yaml"
    config.write_text(
        "route: {receiver: ops}\n"
        "receivers: [{name: ops, webhook_configs: [{url: 'http://127.0.0.1:9/hook'}]}]\n"
    )
    settings = AlertingSettings(config=str(config))
    alerting = build_alerting(
        settings, database, system_clock, bus=bus, liveness=LivenessRegistry()
    )
    assert alerting is not None
    await alerting.start(tick=False)
    try:
        assert alerting.supplier_health.version == 3
        assert alerting.supplier_health.excluded("cmcc") == {EJECTED}
        assert alerting.supplier_health.ranked("cmcc") == [HEALTHY]
    finally:
        await alerting.stop()
