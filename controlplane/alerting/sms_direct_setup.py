"""Supplier-direct alert SMS from the send tier's own settings file: one place for credentials."""

from __future__ import annotations

from pathlib import Path

from controlplane.clock import Clock
from controlplane.yamlsource import ConfigError, ConfigProblem
from notifiers.sms import ALERT_PARAMS
from notifiers.sms_direct import AlertTemplate, DirectSms
from sendtier.api.templates import Template
from sendtier.settings import SendTierSettings, TenantSettings, load_sendtier_settings
from sendtier.suppliers.registry import make_adapter

DEFAULT_TENANT = "alerts"


def alert_tenant(settings: SendTierSettings, token: str) -> TenantSettings | None:
    """The tenant alert SMS are sent as: the one holding `token`, else the one named `alerts`."""
    for tenant in settings.tenants:
        if token and tenant.token.get_secret_value() == token:
            return tenant
    return next((t for t in settings.tenants if t.name == DEFAULT_TENANT), None)


def direct_sms(
    settings: SendTierSettings, file: str, token: str, template_id: str, clock: Clock
) -> DirectSms:
    """Adapters for every configured supplier, with the alert template and the tenant's
    signature; ConfigError (naming the settings file) when either is missing."""
    problems: list[ConfigProblem] = []
    tenant = alert_tenant(settings, token)
    if tenant is None:
        problems.append(
            ConfigProblem(file, None, "tenants", "no tenant holds alerting.sms_token or is named "
                          f"{DEFAULT_TENANT!r}: alert SMS need its signature")
        )  # fmt: skip
    configured = next((t for t in settings.templates if t.id == template_id), None)
    template = Template.compile(configured) if configured is not None else None
    if template is None:
        problems.append(ConfigProblem(file, None, "templates", f"no template {template_id!r}"))
    elif set(template.params) != set(ALERT_PARAMS):
        problems.append(
            ConfigProblem(file, None, "templates", f"template {template_id!r} must take exactly "
                          f"{' and '.join(ALERT_PARAMS)}, not {', '.join(template.params)}")
        )  # fmt: skip
    if not settings.suppliers:
        problems.append(ConfigProblem(file, None, "suppliers", "no supplier to send through"))
    if problems:
        raise ConfigError(problems)
    assert tenant is not None and template is not None
    alert_template = AlertTemplate(
        template,
        tenant.signatures[0],
        {s.name: s.templates.get(template_id, template_id) for s in settings.suppliers},
    )
    adapters = {s.name: make_adapter(s, clock) for s in settings.suppliers}
    return DirectSms(adapters, alert_template)


def load_direct_sms(path: Path, token: str, template_id: str, clock: Clock) -> DirectSms:
    """`direct_sms` for the send tier settings file at `path`."""
    return direct_sms(load_sendtier_settings(path), str(path), token, template_id, clock)
