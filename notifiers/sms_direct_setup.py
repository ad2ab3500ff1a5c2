"""Supplier-direct alert SMS from the send tier's own settings file: one place for credentials.

Only the parts of that file alert SMS need are read (tenants' names, tokens and signatures, the
templates, the supplier accounts); the rest of it is the send tier's business and is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from notifiers.sms import ALERT_PARAMS
from notifiers.sms_direct import AlertTemplate, DirectSms
from smsplatform.clock import Clock
from smsplatform.config.yamlsource import ConfigError, ConfigProblem, load_yaml
from suppliers.registry import make_adapter
from suppliers.settings import SupplierSettings, TemplateSettings
from suppliers.templates import Template

DEFAULT_TENANT = "alerts"


class SendingTenant(Protocol):
    """What alert SMS need of a tenant of the send tier."""

    @property
    def name(self) -> str: ...

    @property
    def token(self) -> SecretStr: ...

    @property
    def signatures(self) -> Sequence[str]: ...


class SendingAccounts(Protocol):
    """What alert SMS need of the send tier's settings (its SendTierSettings has these)."""

    @property
    def tenants(self) -> Sequence[SendingTenant]: ...

    @property
    def templates(self) -> Sequence[TemplateSettings]: ...

    @property
    def suppliers(self) -> Sequence[SupplierSettings]: ...


class _Tenant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    token: SecretStr
    signatures: list[str] = Field(min_length=1)


class _Accounts(BaseModel):
    """The send tier's settings file, as far as alert SMS read it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    tenants: list[_Tenant] = []
    templates: list[TemplateSettings] = []
    suppliers: list[SupplierSettings] = []


def alert_tenant(settings: SendingAccounts, token: str) -> SendingTenant | None:
    """The tenant alert SMS are sent as: the one holding `token`, else the one named `alerts`."""
    for tenant in settings.tenants:
        if token and tenant.token.get_secret_value() == token:
            return tenant
    return next((t for t in settings.tenants if t.name == DEFAULT_TENANT), None)


def direct_sms(
    settings: SendingAccounts, file: str, token: str, template_id: str, clock: Clock
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
    """`direct_sms` for the send tier settings file at `path`; ConfigError with file:line."""
    return direct_sms(_load_accounts(path), str(path), token, template_id, clock)


def _load_accounts(path: Path) -> _Accounts:
    document = load_yaml(path)
    raw = document.data if document.data is not None else {}
    if not isinstance(raw, dict):
        raise ConfigError([document.problem((), "the settings file must be a mapping")])
    try:
        return _Accounts.model_validate(raw)
    except ValidationError as exc:
        problems = [document.problem(tuple(error["loc"]), error["msg"]) for error in exc.errors()]
        raise ConfigError(problems) from None
