"""The console's login cookie is Secure unless the operator turns that off for plain HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from controlplane.service import ControlPlane
from controlplane.settings import ADMIN_TOKEN_ENV, Settings, load_settings
from controlplane.web.app import create_app

TOKEN = "console-admin-token-0123456789"
REPO = Path(__file__).resolve().parents[2]


def settings(database_url: str, **server: Any) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": database_url},
            "server": server,
            "auth": {"tokens": [{"name": "root", "token": TOKEN, "scopes": ["admin"]}]},
        }
    )


@contextmanager
def console(
    config: Settings, base_url: str, environ: dict[str, str] | None = None
) -> Iterator[TestClient]:
    service = ControlPlane(config, environ=environ or {})
    with TestClient(create_app(service), base_url=base_url) as client:
        yield client


def log_in(client: TestClient) -> str:
    answer = client.post("/console/login", data={"token": TOKEN}, follow_redirects=False)
    assert answer.status_code == 303
    return answer.headers["set-cookie"]


def test_the_cookie_is_secure_by_default_even_behind_a_proxy_speaking_plain_http(
    sqlite_url: str,
) -> None:
    # TLS ends at the proxy: the app itself sees http://.
    with console(settings(sqlite_url), "http://console.example") as client:
        cookie = log_in(client)
    assert "smsctl_console_token=" in cookie
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_an_operator_may_turn_secure_off_for_plain_http_development(sqlite_url: str) -> None:
    with console(settings(sqlite_url, secure_cookie=False), "http://127.0.0.1") as client:
        cookie = log_in(client)
    assert "Secure" not in cookie and "HttpOnly" in cookie


def test_make_run_settings_keep_logging_in_over_plain_http(sqlite_url: str) -> None:
    shipped = load_settings(REPO / "smsctl.yaml", {})
    config = shipped.model_copy(
        update={"database": shipped.database.model_copy(update={"url": sqlite_url})}
    )
    with console(config, "http://127.0.0.1:8080", {ADMIN_TOKEN_ENV: TOKEN}) as client:
        client.post("/console/login", data={"token": TOKEN})
        page = client.get("/console", follow_redirects=False)
    assert page.status_code == 200
