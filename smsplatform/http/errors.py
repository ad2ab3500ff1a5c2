"""JSON error bodies for every HTTP failure: an `error` string and, where it applies, the field."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from smsplatform.http.body_limit import OversizedBody
from smsplatform.http.responses import JsonResponse

# What every error body holds (more keys where they help: limits, problems, the accepted count).
ERROR_BODY_SCHEMA: dict[str, Any] = {
    "title": "ErrorBody",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "field": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "detail": {"type": "string"},
    },
    "additionalProperties": True,
}
# FastAPI documents its own 422 body under these names; ours is ERROR_BODY_SCHEMA.
_FASTAPI_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")
_ERROR_BODY_REF = "#/components/schemas/ErrorBody"


class ApiError(Exception):
    """An error a handler wants the client to see, with its status and JSON body."""

    def __init__(
        self, status: int, error: str, headers: dict[str, str] | None = None, **extra: Any
    ):
        super().__init__(error)
        self.status = status
        self.body: dict[str, Any] = {"error": error, **extra}
        self.headers = headers


def install_error_handlers(app: FastAPI) -> None:
    """Every failure answers ERROR_BODY_SCHEMA, and the app's OpenAPI says so."""
    _describe_error_bodies(app)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JsonResponse:
        return JsonResponse(exc.body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JsonResponse:
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        body = {"error": "invalid request", "field": field, "detail": first.get("msg", "")}
        return JsonResponse(body, status_code=422)

    @app.exception_handler(OversizedBody)
    async def _oversized(_: Request, exc: OversizedBody) -> JsonResponse:
        return JsonResponse(exc.body, status_code=exc.status_code)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JsonResponse:
        return JsonResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def _describe_error_bodies(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = _with_our_error_body(build())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point


def _with_our_error_body(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.get("components", {}).get("schemas", {})
    if not any(name in components for name in _FASTAPI_ERROR_SCHEMAS):
        return schema
    for name in _FASTAPI_ERROR_SCHEMAS:
        components.pop(name, None)
    replaced: dict[str, Any] = _replace_refs(schema)
    replaced["components"]["schemas"]["ErrorBody"] = ERROR_BODY_SCHEMA
    return replaced


def _replace_refs(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get("$ref") == "#/components/schemas/HTTPValidationError":
            return {"$ref": _ERROR_BODY_REF}
        return {key: _replace_refs(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace_refs(value) for value in node]
    return node
