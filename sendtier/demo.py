"""The embedded demo platform `make run` starts: simulated suppliers, tenants, templates, routes.

Everything a newcomer needs to see traffic flow with no outside account: each supplier dialect
has one simulated account, every carrier and message class has a route over them, and two
tenants exist (`demo` for the load generator, `alerts` for alert notifications by SMS).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from controlplane.settings import BusSettings, DatabaseSettings
from sendtier.settings import SendTierSettings
from sendtier.suppliers.sim.config import SimulatorConfig

CARRIERS = ("cmcc", "cucc", "ctcc")
CLASSES = ("otp", "notification", "marketing")
# Our template id → (class, text). Suppliers that take template codes map them below.
TEMPLATES = {
    "otp-code": ("otp", "您的验证码是{code}，5分钟内有效，请勿泄露。"),
    "order-shipped": ("notification", "您的订单{order}已发货，快递单号{tracking}。"),
    "festival-sale": ("marketing", "双11大促，全场{discount}折起，回T退订"),
    "alert": ("notification", "[{severity}] {summary}"),
}
ALIYUN_CODES = {
    "otp-code": "SMS_153055065",
    "order-shipped": "SMS_153055066",
    "festival-sale": "SMS_153055067",
    "alert": "SMS_153055068",
}
TENCENT_CODES = {
    "otp-code": "1110001",
    "order-shipped": "1110002",
    "festival-sale": "1110003",
    "alert": "1110004",
}
# How traffic is spread by default: every route has at least three suppliers to fail over to.
WEIGHTS = {"aliyun": 40.0, "tencent": 30.0, "twilio": 10.0, "cmpp": 20.0}


@dataclass(frozen=True)
class DemoPorts:
    api: int = 8081
    dispatch: int = 8082
    receipts: int = 8083
    persist: int = 8084
    simulators: tuple[int, int, int, int] = (8091, 8092, 8093, 8094)


@dataclass(frozen=True)
class DemoPlatform:
    settings: SendTierSettings
    simulators: dict[str, SimulatorConfig]  # supplier name → its simulator
    tenant_tokens: dict[str, str]


def demo_platform(
    ports: DemoPorts, database: DatabaseSettings, bus: BusSettings, host: str = "127.0.0.1"
) -> DemoPlatform:
    """The demo send tier's settings and the simulators its suppliers talk to."""
    receipts_url = f"http://{host}:{ports.receipts}"
    accounts = _accounts()
    sim_ports = dict(zip(accounts, ports.simulators, strict=True))
    tokens = {"demo": secrets.token_urlsafe(18), "alerts": secrets.token_urlsafe(18)}
    suppliers = [
        {
            "name": name,
            "account": account,
            "base_url": f"http://{host}:{sim_ports[name]}",
            "templates": _supplier_templates(name),
        }
        for name, account in accounts.items()
    ]
    settings = SendTierSettings.model_validate(
        {
            "database": database.model_dump(),
            "bus": bus.model_dump(),
            "api": {"host": host, "port": ports.api},
            "dispatch": {"host": host, "port": ports.dispatch, "default_routes": _routes()},
            "receipts": {"host": host, "port": ports.receipts, "public_url": receipts_url},
            "persist": {"host": host, "port": ports.persist},
            "suppliers": suppliers,
            "tenants": [
                {"name": name, "token": token, "signatures": ["短信平台"]}
                for name, token in tokens.items()
            ],
            "templates": [
                {"id": template_id, "message_class": cls, "text": text}
                for template_id, (cls, text) in TEMPLATES.items()
            ],
        }
    )
    simulators = {
        name: SimulatorConfig(
            account=accounts[name],
            callback_url=f"{receipts_url}/v1/callbacks/{name}",
            seed=index,
        )
        for index, name in enumerate(accounts)
    }
    return DemoPlatform(settings, simulators, tokens)


def _accounts() -> dict[str, dict[str, str]]:
    return {
        "aliyun": {
            "dialect": "aliyun",
            "access_key_id": "LTAIdemo0001",
            "access_key_secret": "demo-aliyun-secret",
        },
        "tencent": {
            "dialect": "tencent",
            "secret_id": "AKIDdemo0001",
            "secret_key": "demo-tencent-secret",
            "sdk_app_id": "1400006666",
        },
        "twilio": {
            "dialect": "twilio",
            "account_sid": "AC" + "0" * 31 + "1",
            "auth_token": "demo-twilio-token",
            "from_number": "+15005550006",
        },
        "cmpp": {"dialect": "cmpp", "account": "demo01", "secret": "demo-cmpp-secret"},
    }


def _supplier_templates(name: str) -> dict[str, str]:
    if name == "aliyun":
        return ALIYUN_CODES
    if name == "tencent":
        return TENCENT_CODES
    return {}  # Twilio and CMPP take the rendered text


def _routes() -> list[dict[str, object]]:
    return [
        {"carrier": carrier, "message_class": cls, "suppliers": WEIGHTS}
        for carrier in CARRIERS
        for cls in CLASSES
    ]
