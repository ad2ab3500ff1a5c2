"""The embedded demo platform `make run` starts: simulated suppliers, tenants, templates, routes.

Everything a newcomer needs to see traffic flow with no outside account: each supplier dialect
has one simulated account, every carrier and message class has a route over them, and two
tenants exist (`demo` for the load generator, `alerts` for alert notifications by SMS). The
simulators standing in for a settings file's suppliers are derived here too, so the services
and their simulators can run in separate processes from one `sendtier.yaml`.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import yaml
from sqlalchemy.engine import make_url

from sendtier.settings import SendTierSettings
from smsplatform.clock import Clock, system_clock
from smsplatform.config.settings import BusSettings, DatabaseSettings
from suppliers.callbacks import CALLBACK_TOKEN_PARAM, TOKEN_CHECKED_DIALECTS
from suppliers.settings import SupplierSettings
from testbench.simulators import FaultPlan, RunningSimulator, SimulatorConfig, running_simulator
from testbench.simulators.fleet import DEMO_PLAN

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
# Our TPS gate per supplier: the API rate its simulator enforces (Alibaba 5000 QPS, Tencent 3000,
# SUPPLIERS.md), and a contract-like rate for the two that enforce none.
SUPPLIER_TPS = {"aliyun": 5000.0, "tencent": 3000.0, "twilio": 2000.0, "cmpp": 3000.0}
# The demo tenant may send as fast as the platform goes, so the load generator finds its limits.
DEMO_TENANT_RATE_PER_S = 20_000.0
# The dispatcher's last routing table, for restarts while the control plane is down.
ROUTING_CACHE_NAME = "sendtier-routing.json"


@dataclass(frozen=True)
class DemoPorts:
    api: int = 8081
    dispatch: int = 8082
    receipts: int = 8083
    persist: int = 8084
    simulators: tuple[int, int, int, int] = (8091, 8092, 8093, 8094)


@dataclass(frozen=True)
class SimulatorSite:
    """A simulator standing in for one configured supplier, and the address it listens on."""

    supplier: str
    config: SimulatorConfig
    host: str
    port: int


@dataclass(frozen=True)
class DemoPlatform:
    settings: SendTierSettings
    simulators: dict[str, SimulatorSite]  # supplier name → its simulator
    tenant_tokens: dict[str, str]
    # The settings as `sendtier.yaml` holds them, secrets in clear: what separate processes load.
    document: dict[str, Any]

    def settings_yaml(self) -> str:
        return yaml.safe_dump(self.document, allow_unicode=True, sort_keys=False)


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
            "tps": SUPPLIER_TPS[name],
            "templates": dict(_supplier_templates(name)),
            # Unsigned pushes are checked against a secret only the simulator's URL carries.
            **(
                {"callback_token": secrets.token_urlsafe(18)}
                if account["dialect"] in TOKEN_CHECKED_DIALECTS
                else {}
            ),
        }
        for name, account in accounts.items()
    ]
    document: dict[str, Any] = {
        "database": database.model_dump(),
        "bus": bus.model_dump(),
        "api": {"host": host, "port": ports.api},
        "dispatch": {
            "host": host,
            "port": ports.dispatch,
            "default_routes": _routes(),
            "routing_cache_path": routing_cache_path(database),
        },
        "receipts": {"host": host, "port": ports.receipts, "public_url": receipts_url},
        "persist": {"host": host, "port": ports.persist},
        "suppliers": suppliers,
        "tenants": [
            {
                "name": name,
                "token": token,
                "signatures": ["短信平台"],
                **({"rate_per_s": DEMO_TENANT_RATE_PER_S} if name == "demo" else {}),
            }
            for name, token in tokens.items()
        ],
        "templates": [
            {"id": template_id, "message_class": cls, "text": text}
            for template_id, (cls, text) in TEMPLATES.items()
        ],
    }
    return platform_from(document, tokens)


def platform_from(document: dict[str, Any], tenant_tokens: Mapping[str, str]) -> DemoPlatform:
    """The platform a settings document describes, e.g. a demo document with changes made."""
    settings = SendTierSettings.model_validate(document)
    return DemoPlatform(settings, stand_in_simulators(settings), dict(tenant_tokens), document)


def stand_in_simulators(
    settings: SendTierSettings,
    plans: Mapping[str, FaultPlan] | None = None,
    default_plan: FaultPlan | None = None,
) -> dict[str, SimulatorSite]:
    """One simulator per configured supplier, listening where the supplier's `base_url` points.

    Each answers for the supplier's own account, so the adapters talk to it unchanged, and
    pushes receipts to the gateway's public URL. `plans` maps supplier names to fault plans;
    the others get `default_plan` (default: a little of everything, nothing dramatic).
    """
    plans = plans or {}
    unknown = sorted(set(plans) - {supplier.name for supplier in settings.suppliers})
    if unknown:
        raise ValueError(f"fault plans for suppliers not in the settings: {', '.join(unknown)}")
    fallback = default_plan if default_plan is not None else FaultPlan.model_validate(DEMO_PLAN)
    gateway = settings.receipts.public_url.rstrip("/")
    sites = {}
    for index, supplier in enumerate(settings.suppliers):
        address = urlsplit(supplier.base_url)
        if address.hostname is None or address.port is None:
            raise ValueError(
                f"supplier {supplier.name}: base_url {supplier.base_url!r} needs a host and a "
                "port for a simulator to listen on"
            )
        config = SimulatorConfig(
            account=supplier.account,
            callback_url=_callback_url(gateway, supplier),
            plan=plans.get(supplier.name, fallback),
            seed=index,
        )
        sites[supplier.name] = SimulatorSite(supplier.name, config, address.hostname, address.port)
    return sites


@asynccontextmanager
async def running_simulators(
    sites: Mapping[str, SimulatorSite], clock: Clock = system_clock
) -> AsyncIterator[dict[str, RunningSimulator]]:
    """Serve every simulator until the block exits; supplier name → its running simulator."""
    async with AsyncExitStack() as stack:
        running = {}
        for name, site in sites.items():
            running[name] = await stack.enter_async_context(
                running_simulator(site.config, clock, host=site.host, port=site.port)
            )
        yield running


def routing_cache_path(database: DatabaseSettings) -> str:
    """Where the demo dispatcher keeps its routing table: beside a SQLite database, else var/.

    The control plane numbers routing tables in its database, and the dispatcher ignores any
    version not newer than its own: a cache outliving a fresh database would hide its tables.
    Beside the database file, both are kept or removed together (`make clean` removes var/).
    """
    url = make_url(database.url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return str(Path(url.database).parent / ROUTING_CACHE_NAME)
    return str(Path("var") / ROUTING_CACHE_NAME)


def _callback_url(gateway: str, supplier: SupplierSettings) -> str:
    """The receipt URL set in the supplier's console, with its shared token when it has one."""
    url = f"{gateway}/v1/callbacks/{supplier.name}"
    if supplier.callback_token is None:
        return url
    token = supplier.callback_token.get_secret_value()
    return f"{url}?{urlencode({CALLBACK_TOKEN_PARAM: token})}"


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
        {"carrier": carrier, "message_class": cls, "suppliers": dict(WEIGHTS)}
        for carrier in CARRIERS
        for cls in CLASSES
    ]
