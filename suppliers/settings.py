"""Supplier accounts as configured: one shape per dialect, and how each supplier is reached."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, IPvAnyNetwork, SecretStr

from smsplatform.config.settings import StrictSettings
from smsplatform.contracts import MessageClass


# --- supplier accounts, one shape per dialect (SUPPLIERS.md §1-4) --------------------------------
class AliyunAccount(StrictSettings):
    dialect: Literal["aliyun"] = "aliyun"
    access_key_id: str
    access_key_secret: SecretStr
    region: str = "cn-hangzhou"


class TencentAccount(StrictSettings):
    dialect: Literal["tencent"] = "tencent"
    secret_id: str
    secret_key: SecretStr
    sdk_app_id: str
    region: str = "ap-guangzhou"


class TwilioAccount(StrictSettings):
    dialect: Literal["twilio"] = "twilio"
    account_sid: str = Field(pattern=r"^AC[0-9a-f]{32}$")
    auth_token: SecretStr
    from_number: str | None = None
    messaging_service_sid: str | None = None


class CmppAccount(StrictSettings):
    dialect: Literal["cmpp"] = "cmpp"
    account: str
    secret: SecretStr


SupplierAccount = Annotated[
    AliyunAccount | TencentAccount | TwilioAccount | CmppAccount, Field(discriminator="dialect")
]


class SupplierSettings(StrictSettings):
    """One supplier account the dispatcher may send through."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    account: SupplierAccount
    base_url: str  # where submits go (the real API, or a simulator here)
    timeout_s: float = Field(5.0, gt=0)
    max_concurrency: int = Field(64, ge=1)
    tps: float = Field(1000.0, gt=0)
    # Our template id → this supplier's approved template code.
    templates: dict[str, str] = {}
    # Shared secret in the callback URL for dialects whose pushes carry no signature (C).
    callback_token: SecretStr | None = None
    # Where the supplier pushes receipts from (addresses or CIDR networks); pushes from anywhere
    # else are refused. Empty: from anywhere. Alibaba and Tencent need this or callback_token.
    callback_allowed_ips: list[IPvAnyNetwork] = []


# --- tenants and templates ------------------------------------------------------------------------


class TemplateSettings(StrictSettings):
    id: str
    message_class: MessageClass
    text: str  # with {name} placeholders, e.g. "您的验证码是{code}，5分钟内有效。"
    tenants: list[str] = []  # empty: every tenant may use it
