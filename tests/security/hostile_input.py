"""Hypothesis strategies for input from outside: wrong types, deep nesting, bad bytes, huge lines.

`shaped(fields)` makes objects with a parser's own field names, each holding a plausible value or
any JSON at all: wrong types reach the field checks instead of failing at the first key.
`hostile_bodies(item)` mixes those with raw bytes, invalid UTF-8, nesting past any decoder's
limit and lines far longer than any real one.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Few examples, derandomized: the same inputs every run, and the suite's time stays bounded.
PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=10_000,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HTTP_TIMEOUT_S = 10.0

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
invalid_utf8 = st.tuples(
    st.binary(max_size=20), st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"])
).map(b"".join)
# Past the decoders' recursion limit (msgspec, PyYAML) and past MariaDB's JSON depth.
depths = st.sampled_from([17, 40, 3000])


def nested(depth: int) -> bytes:
    """A JSON array nested `depth` deep."""
    return b"[" * depth + b"]" * depth


def to_json(value: Any) -> bytes:
    # The standard library: it writes integers of any size, which decoders must refuse.
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def shaped(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with these keys (some left out), each a plausible value or any JSON value."""
    return st.fixed_dictionaries(
        {},
        optional={name: plausible | json_values for name, plausible in fields.items()},
    )


def hostile_bodies(item: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    """Bodies of JSON arrays of `item`, and every kind of broken body."""
    items = st.lists(item, max_size=3)
    return st.one_of(
        items.map(to_json),
        item.map(to_json),
        json_values.map(to_json),
        st.binary(max_size=200),
        invalid_utf8,
        depths.map(nested),
        st.tuples(item, depths).map(_nested_inside),
        st.tuples(item, st.sampled_from([70_000, 200_000])).map(_huge_line),
    )


def _nested_inside(item_and_depth: tuple[dict[str, Any], int]) -> bytes:
    item, depth = item_and_depth
    others = to_json(item)[1:-1]
    return b'[{"deep":' + nested(depth) + (b"," + others if others else b"") + b"}]"


def _huge_line(item_and_size: tuple[dict[str, Any], int]) -> bytes:
    item, size = item_and_size
    key = next(iter(item), "text")
    return to_json([{**item, key: "字" * size}])
