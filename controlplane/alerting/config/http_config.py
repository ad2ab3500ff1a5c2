"""A webhook's `http_config` (Alertmanager's shape): the Authorization header it asks for."""

from __future__ import annotations

import base64
from pathlib import Path as FilePath
from typing import Any

from controlplane.alerting.config.reader import ConfigReader
from controlplane.engine.rules.fields import Path

_AUTH_KEYS = ("basic_auth", "authorization", "bearer_token", "bearer_token_file")
# Alertmanager's other HTTP client settings: accepted so its files load, not applied here.
_UNAPPLIED_KEYS = (
    "oauth2",
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
    "tls_config",
    "follow_redirects",
    "enable_http2",
)


def read_authorization(reader: ConfigReader, raw: Any, path: Path) -> str | None:
    """The `Authorization` header value `http_config` asks for, or None for none."""
    node = reader.mapping(raw, path, (*_AUTH_KEYS, *_UNAPPLIED_KEYS), "http_config")
    if node is None:
        return None
    for key in node:
        if key in _UNAPPLIED_KEYS:
            reader.warn((*path, key), "ignored: only authentication is applied to webhooks")
    given = [key for key in _AUTH_KEYS if node.get(key)]
    if len(given) > 1:
        # Alertmanager refuses this too: which one would win is not obvious from the file.
        reader.fail(path, f"at most one of {', '.join(_AUTH_KEYS)} may be set")
        return None
    if "basic_auth" in given:
        return _basic(reader, node["basic_auth"], (*path, "basic_auth"))
    if "authorization" in given:
        return _authorization(reader, node["authorization"], (*path, "authorization"))
    if "bearer_token" in given:
        token = reader.string(node, path, "bearer_token")
        return f"Bearer {token}" if token else None
    if "bearer_token_file" in given:
        token = read_file_setting(reader, node, path, "bearer_token_file")
        return f"Bearer {token}" if token else None
    return None


def _basic(reader: ConfigReader, raw: Any, path: Path) -> str | None:
    keys = ("username", "password", "password_file")
    node = reader.mapping(raw, path, keys, "basic_auth")
    if node is None:
        return None
    username = reader.string(node, path, "username", required=True)
    if "password_file" in node:
        password = read_file_setting(reader, node, path, "password_file")
    else:
        password = reader.string(node, path, "password") or ""
    if username is None or password is None:
        return None
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return f"Basic {pair}"


def _authorization(reader: ConfigReader, raw: Any, path: Path) -> str | None:
    node = reader.mapping(raw, path, ("type", "credentials", "credentials_file"), "authorization")
    if node is None:
        return None
    scheme = reader.string(node, path, "type") or "Bearer"  # Alertmanager's default
    if "credentials_file" in node:
        credentials = read_file_setting(reader, node, path, "credentials_file")
    else:
        credentials = reader.string(node, path, "credentials", required=True)
    return f"{scheme} {credentials}" if credentials else None


def read_file_setting(
    reader: ConfigReader, node: dict[str, Any], path: Path, key: str
) -> str | None:
    """The stripped text of the file `key` names, relative to the config file's folder."""
    name = reader.string(node, path, key, required=True)
    if name is None:
        return None
    base = FilePath(reader.document.file).parent
    try:
        return (base / name).read_text(encoding="utf-8").strip()
    except OSError as exc:
        reader.fail((*path, key), f"cannot read {name}: {exc.strerror}")
        return None
