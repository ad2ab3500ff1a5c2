"""The receipt gateway's HTTP app: one callback endpoint per supplier, /healthz and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI, Path, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import PlainTextResponse

from sendtier.receipts.gateway import UnknownSupplier
from sendtier.receipts.service import ReceiptGatewayService
from sendtier.settings import SendTierSettings
from sendtier.storage import Database
from smsplatform.bus import Bus
from smsplatform.clock import Clock, system_clock
from smsplatform.http.body_limit import read_capped
from smsplatform.http.errors import ApiError, install_error_handlers
from smsplatform.http.health import health_response
from smsplatform.http.openapi_bodies import header_parameter, request_body
from smsplatform.http.request_metrics import RequestMetricsMiddleware
from smsplatform.http.responses import JsonResponse
from suppliers.base import CallbackReader
from suppliers.callbacks import CALLBACK_TOKEN_PARAM
from suppliers.cmpp import SIGNATURE_HEADER as CMPP_SIGNATURE
from suppliers.twilio import SIGNATURE_HEADER as TWILIO_SIGNATURE

# The push as the supplier's dialect writes it (SUPPLIERS.md §7.1): a JSON array of reports
# (Alibaba, Tencent, CMPP batches) or one form-encoded report (Twilio, CMPP).
PUSH_BODY = {
    **request_body(
        {
            "application/json": {"type": "array", "items": {"type": "object"}},
            "application/x-www-form-urlencoded": {
                "type": "object",
                "additionalProperties": {"type": "string"},
            },
        },
        description="A delivery-report push in the configured supplier's dialect.",
    ),
    "parameters": [
        {
            "name": CALLBACK_TOKEN_PARAM,
            "in": "query",
            "required": False,
            "description": "The callback token of dialects that sign nothing (Alibaba, Tencent)",
            "schema": {"type": "string"},
        },
        header_parameter(TWILIO_SIGNATURE, "Twilio's signature of the URL and form"),
        header_parameter(CMPP_SIGNATURE, "The CMPP gateway's signature of the push"),
    ],
}


def create_receipt_gateway_app(
    settings: SendTierSettings,
    bus: Bus,
    database: Database,
    readers: Mapping[str, CallbackReader],
    clock: Clock = system_clock,
) -> FastAPI:
    """The gateway app; `readers` maps configured supplier names to their dialect's reader.

    The bus must be started and the database migrated by the caller; the app's lifespan runs
    the gateway (index feed, sweeps of held reports, replay-memory purges).
    """
    service = ReceiptGatewayService(settings, bus, database, readers, clock)
    public_url = settings.receipts.public_url.rstrip("/")
    max_body_bytes = settings.receipts.max_body_bytes

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="sendtier receipt gateway", lifespan=lifespan)
    app.state.service = service
    install_error_handlers(app)

    @app.post("/v1/callbacks/{supplier}", openapi_extra=PUSH_BODY)
    async def callback(
        request: Request,
        # A default, not Annotated: the names exist only here, where postponed annotations
        # could not find them.
        supplier: str = Path(json_schema_extra={"enum": sorted(readers)}),
    ) -> Response:
        body = await read_capped(request, max_body_bytes)
        # Signatures cover the URL the supplier called, which is ours as the outside sees it.
        query = request.url.query
        url = public_url + request.url.path + (f"?{query}" if query else "")
        try:
            client = request.client.host if request.client is not None else None
            reply = await service.gateway.handle_push(supplier, url, request.headers, body, client)
        except UnknownSupplier:
            raise ApiError(404, f"unknown supplier {supplier!r}", field="supplier") from None
        return Response(reply.body, status_code=reply.status_code, media_type=reply.content_type)

    @app.get("/healthz")
    async def healthz() -> JsonResponse:
        return health_response(await service.health(), service.consumers)

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        await service.refresh_metrics()
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(RequestMetricsMiddleware, metrics=service.metrics)
    return app
