"""Send-tier settings: tenants, templates, suppliers and each service's knobs, validated strictly.

Loaded like the control plane's (one YAML file plus SMSCTL_* overrides is the control plane's
convention; the send tier reads `sendtier.yaml` and SENDTIER_* the same way).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError

from smsplatform.config.settings import BusSettings, DatabaseSettings, StrictSettings
from smsplatform.config.yamlsource import ConfigError, load_yaml
from smsplatform.contracts import MessageClass
from suppliers.settings import SupplierSettings, TemplateSettings


class OtpLimits(StrictSettings):
    per_minute: int = Field(1, ge=1)
    per_hour: int = Field(5, ge=1)
    per_day: int = Field(10, ge=1)


class TenantSettings(StrictSettings):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    token: SecretStr
    signatures: list[str] = Field(min_length=1)  # approved signature names, without 【】
    rate_per_s: float = Field(2000.0, gt=0)
    otp_limits: OtpLimits = OtpLimits()
    notification_per_number_per_day: int = Field(50, ge=1)


# --- services -----------------------------------------------------------------------------------
class ApiSettings(StrictSettings):
    host: str = "127.0.0.1"
    port: int = Field(8081, ge=1, le=65535)
    max_batch: int = Field(1000, ge=1)
    default_region: str = "CN"
    # Number prefix (E.164 digits without +, e.g. "86170") → carrier; overrides phonenumbers' data.
    carrier_prefixes: dict[str, str] = {}
    max_content_chars: int = Field(500, ge=1)


class RouteSettings(StrictSettings):
    carrier: str
    message_class: MessageClass
    suppliers: dict[str, float]  # supplier name → weight


class DispatchSettings(StrictSettings):
    host: str = "127.0.0.1"
    port: int = Field(8082, ge=1, le=65535)
    # Used until the control plane publishes a routing table (and kept if it is down).
    default_routes: list[RouteSettings] = []
    ack_wait_s: float = Field(30.0, gt=0)
    # Where the last routing table is kept, so a restart without the control plane starts from it.
    routing_cache_path: str | None = None
    # Messages submitted at once, across all suppliers (each supplier also has max_concurrency).
    max_in_flight: int = Field(512, ge=1)


class ReceiptGatewaySettings(StrictSettings):
    host: str = "127.0.0.1"
    port: int = Field(8083, ge=1, le=65535)
    # The gateway's address as suppliers see it, for dialects that take a callback URL per submit.
    public_url: str = "http://127.0.0.1:8083"
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    # Accepted submits remembered for correlating receipts by the supplier's id (misses: the DB).
    correlation_cache_size: int = Field(200_000, ge=1)
    # How long a report whose submit is not known yet is retried before it is kept as an orphan.
    correlation_retry_s: float = Field(5.0, gt=0)
    # Most reports held in storage at once for their submit; beyond, they are orphans at once.
    held_reports_max: int = Field(50_000, ge=1)
    # How long, and how many, reports taken are remembered, so a replay is not published again.
    # An hour covers every documented re-push schedule (Alibaba and CMPP: 1, 5, 10 minutes);
    # the count bound keeps storage in check at high rates (~17 min at 5,000 reports/s).
    replay_horizon_s: float = Field(3600.0, gt=0)
    replay_memory_max: int = Field(5_000_000, ge=1)
    # The gateway's durable on sms.submitted; give each replica its own (each needs every submit).
    index_durable: str = Field("sendtier-receipts-index", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    # Its durable on cp.degradation; give each replica its own (each needs the policy).
    degradation_durable: str = Field(
        "sendtier-receipts-degradation", pattern=r"^[A-Za-z0-9_-]{1,64}$"
    )


class PersistSettings(StrictSettings):
    host: str = "127.0.0.1"
    port: int = Field(8084, ge=1, le=65535)
    batch_events: int = Field(2000, ge=1)
    # This replica's durable on cp.degradation; give each replica its own (each needs the policy).
    degradation_durable: str = Field(
        "sendtier-persist-degradation", pattern=r"^[A-Za-z0-9_-]{1,64}$"
    )


class SendTierSettings(StrictSettings):
    database: DatabaseSettings = DatabaseSettings()
    bus: BusSettings = BusSettings()
    api: ApiSettings = ApiSettings()
    dispatch: DispatchSettings = DispatchSettings()
    receipts: ReceiptGatewaySettings = ReceiptGatewaySettings()
    persist: PersistSettings = PersistSettings()
    suppliers: list[SupplierSettings] = []
    tenants: list[TenantSettings] = []
    templates: list[TemplateSettings] = []
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


def load_sendtier_settings(path: Path) -> SendTierSettings:
    """Settings from a `sendtier.yaml`; a bad one raises ConfigError naming file, line and field."""
    document = load_yaml(path)
    raw = document.data if document.data is not None else {}
    if not isinstance(raw, dict):
        raise ConfigError([document.problem((), "the settings file must be a mapping")])
    try:
        return SendTierSettings.model_validate(raw)
    except ValidationError as exc:
        problems = [
            document.problem(
                tuple(error["loc"]),
                "unknown key" if error["type"] == "extra_forbidden" else error["msg"],
            )
            for error in exc.errors()
        ]
        raise ConfigError(problems) from None
