"""Rule files and alerting.yaml, however broken, load or fail with ConfigError naming the file.

They arrive as files (a reload reads them again), so they go through the loaders that read
files: load_rule_file and load_alerting_config. Anything else raised, or a load that runs past
the deadline, is a bug.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hostile_input import PROPERTY_SETTINGS, invalid_utf8, json_values, shaped
from hypothesis import given
from hypothesis import strategies as st

from controlplane.alerting.config.loader import load_alerting_config
from controlplane.engine.rules.loader import load_rule_file
from smsplatform.config.yamlsource import ConfigError

durations = st.sampled_from(["30s", "5m", "1h", "-1s", "0s", "1y"]) | st.text(max_size=6)
RULE = shaped(
    {
        "alert": st.text(max_size=12),
        "record": st.text(max_size=12),
        "source": st.sampled_from(["receipts", "submits", "logs", "probes", "nope"]),
        "expr": st.sampled_from(["up == 0", "rate(x[5m]) >", "sum by (a) (b)"]),
        "when": st.sampled_from(["total > 1", "delivery_rate < 0.9 &&", "(("]),
        "by": st.lists(st.text(max_size=8), max_size=3),
        "window": durations,
        "for": durations,
        "labels": st.dictionaries(st.text(max_size=8), json_values),
        "annotations": st.dictionaries(st.text(max_size=8), st.text(max_size=30) | json_values),
    }
)
GROUP = shaped(
    {"name": st.text(max_size=10), "interval": durations, "rules": st.lists(RULE, max_size=3)}
)
RULE_FILES = shaped({"groups": st.lists(GROUP, max_size=3)})
ROUTE = shaped(
    {
        "receiver": st.sampled_from(["ops", "nobody"]),
        "group_by": st.lists(st.text(max_size=8), max_size=3),
        "group_wait": durations,
        "matchers": st.lists(st.sampled_from(["a=b", "a=~(", 'a!="x"', "=="]), max_size=2),
        "continue": st.booleans(),
    }
)
RECEIVER = shaped(
    {
        "name": st.sampled_from(["ops", "phone"]),
        "webhook_configs": st.lists(shaped({"url": st.text(max_size=20)}), max_size=2),
        "dingtalk_configs": st.lists(shaped({"webhook_url": st.text(max_size=20)}), max_size=1),
    }
)
ALERTING_FILES = shaped(
    {
        "route": st.recursive(
            ROUTE,
            lambda inner: (
                inner.map(lambda r: r)
                | st.builds(
                    lambda route, children: {**route, "routes": children},
                    ROUTE,
                    st.lists(inner, max_size=2),
                )
            ),
            max_leaves=6,
        ),
        "receivers": st.lists(RECEIVER, max_size=3),
        "inhibit_rules": st.lists(json_values, max_size=2),
        "time_intervals": st.lists(json_values, max_size=2),
        "escalations": st.lists(json_values, max_size=2),
        "oncall": json_values,
    }
)


def texts(shapes: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    """YAML of config-shaped documents, and broken files of every kind."""
    return st.one_of(
        shapes.map(lambda doc: yaml.safe_dump(doc, allow_unicode=True).encode()),
        json_values.map(lambda doc: yaml.safe_dump(doc).encode()),
        st.text(max_size=200).map(str.encode),
        st.binary(max_size=200),
        invalid_utf8,
        st.integers(min_value=60, max_value=200).map(lambda n: b"groups: " + b"[" * n),
        st.sampled_from(ALIAS_TRAPS),
        st.sampled_from([5_000, 20_000]).map(lambda n: b"groups: [" + b"x," * n + b"]"),
    )


ALIAS_TRAPS = [
    b"groups: &a\n  - *a\n",
    b"route: &r\n  receiver: ops\n  routes: [*r]\nreceivers:\n  - name: ops\n",
    b"groups:\n  - &g\n    name: g\n    rules: [*g]\n",
    b"a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
    b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
    b"groups: [*d, *d, *d, *d, *d, *d, *d, *d]\n",
]


def _load(loader: Any, directory: Path, text: bytes) -> None:
    path = directory / "config.yaml"
    path.write_bytes(text)
    try:
        loader(path)
    except ConfigError as refused:
        assert refused.problems and all(p.file == str(path) for p in refused.problems)


@PROPERTY_SETTINGS
@given(text=texts(RULE_FILES))
def test_rule_files_load_or_are_refused_with_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, text: bytes
) -> None:
    _load(load_rule_file, tmp_path_factory.mktemp("rules"), text)


@PROPERTY_SETTINGS
@given(text=texts(ALERTING_FILES))
def test_alerting_files_load_or_are_refused_with_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, text: bytes
) -> None:
    _load(load_alerting_config, tmp_path_factory.mktemp("alerting"), text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"groups: " + b"[" * 3000 + b"]" * 3000, "nested deeper than"),
        (b"groups: &a\n  - *a\n", "an alias inside what it names"),
        (
            b"route: &r\n  receiver: ops\n  routes: [*r]\nreceivers:\n  - name: ops\n",
            "an alias inside what it names",
        ),
        (b"groups:\n  - name: \x00\n", "U+0000 is not allowed"),
        (b"groups:\n  - name: caf\xe9\n", "not UTF-8"),
    ],
    ids=["deep", "alias-cycle", "route-cycle", "nul", "latin-1"],
)
@pytest.mark.parametrize("loader", [load_rule_file, load_alerting_config])
def test_files_no_loader_could_walk_are_refused_naming_the_file(
    tmp_path: Path, loader: Any, text: bytes, problem: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(text)
    with pytest.raises(ConfigError) as refused:
        loader(path)
    assert problem in str(refused.value)
    assert str(refused.value).startswith(str(path))
