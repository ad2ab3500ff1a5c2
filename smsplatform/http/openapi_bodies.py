"""OpenAPI descriptions of request bodies that handlers read themselves, for `openapi_extra`.

Hot paths (ingest, receipts, sends) decode their bodies with msgspec rather than pydantic, so
FastAPI cannot see them. These helpers describe such a body from the same msgspec types the
handler decodes with, so the published schema is the one the decoder enforces.
"""

from __future__ import annotations

from typing import Any

import msgspec

_LOCAL_REF = "#/$defs/"


def msgspec_schema(kind: Any) -> dict[str, Any]:
    """The JSON Schema of a msgspec type, its definitions inlined (the types are not recursive)."""
    schema = msgspec.json.schema(kind)
    definitions = schema.pop("$defs", {})
    inlined: dict[str, Any] = _inline(schema, definitions)
    return inlined


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_LOCAL_REF):
            return _inline(definitions[ref.removeprefix(_LOCAL_REF)], definitions)
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value, definitions) for value in node]
    return node


def request_body(
    content: dict[str, dict[str, Any]], *, required: bool = True, description: str = ""
) -> dict[str, Any]:
    """`openapi_extra` declaring a request body: media type → JSON Schema."""
    body: dict[str, Any] = {
        "required": required,
        "content": {media_type: {"schema": schema} for media_type, schema in content.items()},
    }
    if description:
        body["description"] = description
    return {"requestBody": body}


def header_parameter(name: str, description: str) -> dict[str, Any]:
    """An optional string header, as an OpenAPI parameter object."""
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }
