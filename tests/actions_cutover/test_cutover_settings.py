"""The `cutover:` section of smsctl.yaml: strict, with errors naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.settings import load_settings
from smsplatform.config.yamlsource import ConfigError


def test_cutover_mistakes_are_named_by_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "smsctl.yaml"
    path.write_text(
        "cutover:\n"
        "  failback:\n"
        "    steps: [0.5, 0.1]\n"
        "  health: {delivery_p0: 0.6, delivery_p1: 0.9}\n"
        "  routes:\n"
        "    - carrier: cmcc\n"
        "      message_class: sms\n"
        "      suppliers: {aliyun: -1}\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(path, {})
    problems = str(raised.value).splitlines()
    assert any(
        p.startswith(f"{path}:3: cutover.failback.steps") and "must rise" in p for p in problems
    )
    assert any(
        p.startswith(f"{path}:4: cutover.health") and "delivery_p1 must be below" in p
        for p in problems
    )
    assert any(p.startswith(f"{path}:7: cutover.routes.0.message_class") for p in problems)
    assert any(
        p.startswith(f"{path}:8: cutover.routes.0.suppliers") and "≥ 0" in p for p in problems
    )


def test_the_shipped_settings_load_with_cutover_on() -> None:
    settings = load_settings(Path("smsctl.yaml"), {})
    assert settings.cutover.enabled
    assert settings.cutover.failback.steps == [0.01, 0.05, 0.25, 1.0]
