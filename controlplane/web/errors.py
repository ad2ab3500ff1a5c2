"""JSON error bodies for every HTTP failure: an `error` string and, where it applies, the field."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from controlplane.web.body_limit import OversizedBody
from controlplane.web.responses import JsonResponse


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
