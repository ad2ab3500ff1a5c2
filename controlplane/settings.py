"""Service settings: one YAML file plus SMSCTL_* environment overrides, validated strictly."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal, Self, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from controlplane.actions.cutover_settings import CutoverSettings
from smsplatform.config.settings import BusSettings, DatabaseSettings, StrictSettings
from smsplatform.config.yamlsource import ConfigError, ConfigProblem, YamlDocument, load_yaml

# The settings file a command reads when --config names none (and it exists).
DEFAULT_CONFIG = Path("smsctl.yaml")
ENV_PREFIX = "SMSCTL_"
# Not a settings path: an extra admin token given by the environment (see auth).
ADMIN_TOKEN_ENV = "SMSCTL_ADMIN_TOKEN"
Scope = Literal["ingest", "operator", "admin"]
# Tokens and secrets shorter than this are refused: they could be guessed.
MIN_SECRET_CHARS = 16


class ServerSettings(StrictSettings):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    # The console's login cookie is Secure: browsers send it over HTTPS only, whether TLS ends
    # here or at a proxy in front. Turn off only to use the console over plain HTTP while
    # developing (`make run` does, on 127.0.0.1).
    secure_cookie: bool = True


class IngestSettings(StrictSettings):
    max_body_bytes: int = Field(32 * 1024 * 1024, gt=0)
    max_events: int = Field(200_000, gt=0)
    # Events per bus message: keeps each payload well under NATS' 1 MB default max_payload.
    bus_chunk_events: int = Field(1000, gt=0, le=4000)
    persist_batch: int = Field(2000, gt=0)
    # An ingest-only replica leaves storage to other processes (see ARCHITECTURE.md, scaling).
    persist_enabled: bool = True


class PrometheusSettings(StrictSettings):
    """The Prometheus that PromQL rules query."""

    url: str = "http://127.0.0.1:9090"
    query_timeout_s: float = Field(10.0, gt=0)


class RulesSettings(StrictSettings):
    """Where rule files live and how the engine evaluates them."""

    # Files or folders of rule YAML (`make run` uses rules/); none by default.
    paths: list[str] = []
    # Re-read the files when they change (polling their modification times).
    watch: bool = True
    watch_interval_s: float = Field(2.0, gt=0)
    # Live label sets per window before new ones fold into `other`.
    label_cap: int = Field(10_000, ge=1)
    # The console's address, for links in annotations (`$externalURL`).
    external_url: str = "http://127.0.0.1:8080"


class AlertingSettings(StrictSettings):
    """Where alerts go: the routing configuration, and how acknowledgement links are signed."""

    # An alerting.yaml (Alertmanager-shaped); none: firing and resolved alerts are only logged.
    config: str | None = None
    # Signs the acknowledgement links in notifications. Required once alerting.yaml has
    # escalation chains (whose episodes the links acknowledge); shared by replicas and kept
    # across restarts, or the links already sent stop working.
    ack_secret: SecretStr | None = None
    ack_link_ttl_s: float = Field(24 * 3600.0, gt=0)
    # Where ack links and "more" links point: this control plane as people reach it.
    public_url: str = "http://127.0.0.1:8080"
    # The services behind the channels whose config in alerting.yaml names no endpoint.
    wecom_api_url: str = "https://qyapi.weixin.qq.com"
    voice_api_url: str = "https://dyvmsapi.aliyuncs.com"
    voice_access_key_id: str = ""
    voice_access_key_secret: SecretStr = SecretStr("")
    # What the voice service's receipt pushes must carry: `?token=` in the callback URL set in
    # its console (or an `X-Callback-Token` header). Required once a receiver has voice_configs.
    voice_callback_token: SecretStr | None = None
    # Calls to a callee who does not answer, per escalation step, the first included: a call
    # ended busy, unanswered or unreachable is placed again (a minute apart at least).
    voice_call_attempts: int = Field(3, ge=1, le=5)
    # An escalation page that failed on every channel is paged again after page_retry_s, then
    # twice as long after each further failure, at most page_retry_max_s apart, until the group
    # is acknowledged, silenced or resolved (or the chain's next step pages the receiver).
    page_retry_s: float = Field(60.0, ge=1.0)
    page_retry_max_s: float = Field(300.0, ge=1.0)
    sms_api_url: str = "http://127.0.0.1:8081"
    sms_token: SecretStr = SecretStr("")
    # The send tier's settings file: its supplier accounts carry alert SMS while its API is down.
    sms_direct_config: str | None = None

    @field_validator("ack_secret", "voice_callback_token")
    @classmethod
    def _secret_long_enough(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and len(secret.get_secret_value()) < MIN_SECRET_CHARS:
            raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters long")
        return secret

    @model_validator(mode="after")
    def _page_retry_cap_above_first(self) -> Self:
        if self.page_retry_max_s < self.page_retry_s:
            raise ValueError("page_retry_max_s must not be below page_retry_s")
        return self


class TokenSettings(StrictSettings):
    name: str = Field(min_length=1)
    token: SecretStr
    scopes: list[Scope] = Field(min_length=1)

    @field_validator("token")
    @classmethod
    def _long_enough(cls, token: SecretStr) -> SecretStr:
        if len(token.get_secret_value()) < MIN_SECRET_CHARS:
            raise ValueError(f"a token must be at least {MIN_SECRET_CHARS} characters long")
        return token


class AuthSettings(StrictSettings):
    tokens: list[TokenSettings] = []


# The levels that degrade, in order; `normal` is below them all.
DegradedLevel = Literal["sample", "shed_marketing", "shed_notification"]
DEGRADED_LEVELS: tuple[DegradedLevel, ...] = get_args(DegradedLevel)


class LevelThresholds(StrictSettings):
    """Enter a level when the reading reaches `enter`; leave it once it is below `exit`."""

    enter: float = Field(ge=0)
    exit: float = Field(ge=0)

    @model_validator(mode="after")
    def _exit_below_enter(self) -> Self:
        if self.exit >= self.enter:
            raise ValueError("exit must be below enter (the gap is the hysteresis)")
        return self


class DegradationTrigger(StrictSettings):
    """One reading that degrades: thresholds per level, and optionally a PromQL query for it."""

    levels: dict[DegradedLevel, LevelThresholds] = Field(min_length=1)
    # Read this instant query (one series) instead of the control plane's own figure.
    promql: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _rising_with_level(self) -> Self:
        configured = [self.levels[level] for level in DEGRADED_LEVELS if level in self.levels]
        for lower, higher in pairwise(configured):
            if higher.enter <= lower.enter or higher.exit <= lower.exit:
                raise ValueError("a higher level needs higher enter and exit thresholds")
        return self


class BusLagTrigger(DegradationTrigger):
    """Messages waiting for a consumer: by default the send tier's receipt storage."""

    subject: str = "sms.receipts"
    durable: str = "sendtier-persist-receipts"


class DegradationTriggers(StrictSettings):
    ingest_rate: DegradationTrigger | None = None  # receipts per second on sms.receipts
    bus_lag: BusLagTrigger | None = None  # messages not yet acknowledged
    persist_latency: DegradationTrigger | None = None  # seconds per stored batch


class DegradationSchedule(StrictSettings):
    """A known peak: degrade to `level` for `duration_s` from each time `cron` names."""

    name: str = Field(min_length=1, max_length=128)
    cron: str  # five crontab fields: minute hour day month weekday
    timezone: str = "UTC"
    duration_s: float = Field(gt=0)
    level: DegradedLevel
    sample_ratio: float | None = Field(None, gt=0, le=1)
    reason: str = ""

    @field_validator("cron")
    @classmethod
    def _crontab(cls, cron: str) -> str:
        try:
            CronTrigger.from_crontab(cron, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"not a crontab expression: {exc}") from None
        return cron

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r}") from None
        return zone


class DegradationSettings(StrictSettings):
    """Status-report degradation: triggers with hysteresis, schedules, and the sample taken."""

    enabled: bool = True
    evaluate_interval_s: float = Field(5.0, gt=0)
    # An automatic level is held this long before stepping up further, or down.
    min_dwell_up_s: float = Field(30.0, ge=0)
    min_dwell_down_s: float = Field(300.0, ge=0)
    # Share of marketing receipts kept under `sample` (unless a schedule or operator says).
    sample_ratio: float = Field(0.1, gt=0, le=1)
    triggers: DegradationTriggers = DegradationTriggers()
    schedules: list[DegradationSchedule] = []


class Settings(StrictSettings):
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    bus: BusSettings = BusSettings()
    ingest: IngestSettings = IngestSettings()
    auth: AuthSettings = AuthSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    rules: RulesSettings = RulesSettings()
    alerting: AlertingSettings = AlertingSettings()
    degradation: DegradationSettings = DegradationSettings()
    cutover: CutoverSettings = CutoverSettings()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


def settings_path(given: Path | None) -> Path | None:
    """The settings file to read: the one given, else ./smsctl.yaml when present, else none."""
    if given is None and DEFAULT_CONFIG.exists():
        return DEFAULT_CONFIG
    return given


def load_settings(path: Path | None, environ: Mapping[str, str]) -> Settings:
    """Settings from `path` (optional) overlaid with SMSCTL_* variables; ConfigError names culprits.

    An environment variable names a key path with `__` between levels: SMSCTL_SERVER__PORT=9000.
    """
    document = load_yaml(path) if path else YamlDocument(file="<defaults>", data=None, root=None)
    raw = document.data if document.data is not None else {}
    if not isinstance(raw, dict):
        raise ConfigError([document.problem((), "the settings file must be a mapping")])
    env_sources = _apply_environment(raw, environ)
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError([_problem(document, env_sources, err) for err in exc.errors()]) from None


def _apply_environment(
    raw: dict[str, Any], environ: Mapping[str, str]
) -> dict[tuple[str, ...], str]:
    """Write SMSCTL_* overrides into `raw`; returns which key paths came from which variable."""
    sources: dict[tuple[str, ...], str] = {}
    problems: list[ConfigProblem] = []
    for variable, text in sorted(environ.items()):
        if not variable.startswith(ENV_PREFIX) or variable == ADMIN_TOKEN_ENV:
            continue
        path = tuple(part.lower() for part in variable[len(ENV_PREFIX) :].split("__"))
        if not _is_known_path(path):
            problems.append(ConfigProblem("<environment>", None, variable, "unknown setting"))
            continue
        target = raw
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = yaml.safe_load(text) if text else text
        sources[path] = variable
    if problems:
        raise ConfigError(problems)
    return sources


def _is_known_path(path: tuple[str, ...]) -> bool:
    model: type[BaseModel] = Settings
    for depth, part in enumerate(path):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if depth < len(path) - 1:
            if not is_model:
                return False
            assert isinstance(annotation, type)
            model = annotation
    return True


def _problem(
    document: YamlDocument, env_sources: dict[tuple[str, ...], str], error: Any
) -> ConfigProblem:
    loc = tuple(error["loc"])
    message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
    for length in range(len(loc), 0, -1):
        variable = env_sources.get(tuple(str(p) for p in loc[:length]))
        if variable:
            return ConfigProblem("<environment>", None, variable, message)
    return document.problem(loc, message)
