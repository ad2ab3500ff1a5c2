"""rules/schema.json: editors validate rule files with it, so it must accept every shipped file,
refuse broken ones, and know exactly the keys the loader knows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from controlplane.engine.rules.loader import FILE_KEYS, GROUP_KEYS
from controlplane.engine.rules.rule_parser import ACTION_PARAMS, ALERT_KEYS, RECORD_KEYS

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
SHIPPED = sorted([*RULES_DIR.glob("*.yaml"), *(RULES_DIR / "examples").glob("*.yaml")])


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((RULES_DIR / "schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    return document


def errors(schema: dict[str, Any], document: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_rules_are_shipped() -> None:
    assert len(SHIPPED) >= 5


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_every_shipped_rule_file_validates_against_the_schema(
    schema: dict[str, Any], path: Path
) -> None:
    assert errors(schema, yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize(
    ("broken", "where"),
    [
        ({"groups": [{"name": "g", "colour": "red"}]}, "groups/0"),
        ({"groups": [{"name": "g", "interval": "5 seconds"}]}, "groups/0/interval"),
        ({"groups": [{"rules": []}]}, "groups/0"),
        ({"groups": [{"name": "g", "interval": "0s"}]}, "groups/0/interval"),
        ({"groups": [{"name": "g", "interval": "1m1h"}]}, "groups/0/interval"),
        ({"groups": [{"name": "g", "rules": [{"alert": "A", "source": "nowhere"}]}]}, "rules/0"),
        ({"groups": [{"name": "g", "rules": [{"alert": "A", "source": "receipts"}]}]}, "rules/0"),
        ({"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up", "when": "x"}]}]}, "0"),
        ({"groups": [{"name": "g", "rules": [{"record": "bad-name", "expr": "up"}]}]}, "0"),
        ({"groups": [{"name": "g", "rules": [{"record": "r", "expr": "up", "for": "1m"}]}]}, "0"),
        ({"groups": [{"name": "g", "rules": [{"alert": "A", "record": "r", "expr": "u"}]}]}, "0"),
        (
            {
                "groups": [
                    {
                        "name": "g",
                        "rules": [{"alert": "A", "expr": "up", "actions": [{"explode": {}}]}],
                    }
                ]
            },
            "0",
        ),
        ({"rule_files": []}, ""),
    ],
)
def test_the_schema_rejects_broken_rule_files(
    schema: dict[str, Any], broken: dict[str, Any], where: str
) -> None:
    found = errors(schema, broken)
    assert found, f"schema accepted {broken}"
    assert any(where in error for error in found), found


def test_schema_and_loader_know_the_same_keys(schema: dict[str, Any]) -> None:
    definitions = schema["$defs"]
    assert set(schema["properties"]) == FILE_KEYS
    assert set(definitions["group"]["properties"]) == GROUP_KEYS
    assert set(definitions["alertRule"]["properties"]) == ALERT_KEYS
    assert set(definitions["recordingRule"]["properties"]) == RECORD_KEYS
    actions = definitions["action"]["properties"]
    assert set(actions) == set(ACTION_PARAMS)
    for kind, (params, required) in ACTION_PARAMS.items():
        assert set(actions[kind]["properties"]) == params
        assert actions[kind]["required"] == [required]
