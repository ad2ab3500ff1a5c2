"""Settings: one YAML file plus SMSCTL_* overrides; mistakes name file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.auth import build_tokens
from controlplane.settings import load_settings
from smsplatform.config.yamlsource import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "smsctl.yaml"
    path.write_text(text)
    return path


def test_defaults_are_embedded_sqlite_and_memory_bus() -> None:
    settings = load_settings(None, {})
    assert settings.database.url.startswith("sqlite:///")
    assert settings.bus.backend == "memory"
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)


def test_an_unknown_key_is_named_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: 9000\nbus:\n  backend: memory\n  colour: red\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert str(caught.value) == f"{path}:5: bus.colour: unknown key"


def test_a_bad_value_is_named_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bus:\n  backend: kafka\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    problem = caught.value.problems[0]
    assert (problem.file, problem.line, problem.key) == (str(path), 2, "bus.backend")
    assert "memory" in problem.message


def test_invalid_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: 9000\n bus: [\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert caught.value.problems[0].line == 3


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: 9000\n")
    settings = load_settings(
        path, {"SMSCTL_SERVER__PORT": "9100", "SMSCTL_BUS__BACKEND": "jetstream"}
    )
    assert settings.server.port == 9100
    assert settings.bus.backend == "jetstream"


def test_an_unknown_or_bad_environment_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="SMSCTL_SERVER__PROT: unknown setting"):
        load_settings(None, {"SMSCTL_SERVER__PROT": "1"})
    with pytest.raises(ConfigError, match="SMSCTL_SERVER__PORT: Input should be a valid integer"):
        load_settings(None, {"SMSCTL_SERVER__PORT": "eighty"})


def test_a_short_token_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "auth:\n  tokens:\n    - {name: a, token: short, scopes: [ingest]}\n")
    with pytest.raises(ConfigError, match=r":3: auth.tokens.0.token: .*at least 16 characters"):
        load_settings(path, {})


def test_an_admin_token_is_generated_only_when_none_is_configured() -> None:
    settings = load_settings(None, {})
    generated = build_tokens(settings.auth, {})
    assert generated.generated_admin_token
    principal = generated.registry.authenticate(generated.generated_admin_token)
    assert principal is not None and principal.may("operator")
    from_env = build_tokens(settings.auth, {"SMSCTL_ADMIN_TOKEN": "env-admin-token-123456"})
    assert from_env.generated_admin_token is None
    assert from_env.registry.authenticate("env-admin-token-123456") is not None
    assert from_env.registry.authenticate("env-admin-token-12345") is None
