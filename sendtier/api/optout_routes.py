"""HTTP handlers of the marketing opt-out list: opt a number out, look it up, opt it back in."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from sendtier.api.bodies import OptOutRequest, decode_request
from sendtier.api.refusals import InvalidRequest
from sendtier.api.routes import Tenant, read_body, send_api
from sendtier.api.validation import InvalidPhone, PhoneValidator
from smsplatform.http.errors import ApiError
from smsplatform.http.openapi_bodies import msgspec_schema, request_body
from smsplatform.http.responses import JsonResponse

router = APIRouter()
OPT_OUT_BODY = request_body({"application/json": msgspec_schema(OptOutRequest)})


def _e164(phones: PhoneValidator, raw: str) -> str:
    try:
        return phones.normalize(raw)
    except InvalidPhone as exc:
        raise InvalidRequest(str(exc), "phone") from None


@router.post("/v1/opt-outs", openapi_extra=OPT_OUT_BODY)
async def opt_out(request: Request, tenant: Tenant) -> JsonResponse:
    """Opt a number out of the tenant's marketing: 201 when new, 200 when it already was."""
    api = send_api(request)
    wanted = decode_request(OptOutRequest, await read_body(request))
    phone = _e164(api.acceptor.phones, wanted.phone)
    added = await api.optouts.add(tenant.name, phone, api.clock.now(), wanted.reason)
    return JsonResponse({"phone": phone, "opted_out": True}, status_code=201 if added else 200)


@router.get("/v1/opt-outs/{phone}")
async def opt_out_status(phone: str, request: Request, tenant: Tenant) -> JsonResponse:
    api = send_api(request)
    e164 = _e164(api.acceptor.phones, phone)
    return JsonResponse({"phone": e164, "opted_out": api.optouts.contains(tenant.name, e164)})


@router.delete("/v1/opt-outs/{phone}", status_code=204)
async def opt_in(phone: str, request: Request, tenant: Tenant) -> Response:
    """Opt the number back in: 204, or 404 when it had not opted out."""
    api = send_api(request)
    e164 = _e164(api.acceptor.phones, phone)
    if not await api.optouts.remove(tenant.name, e164):
        raise ApiError(404, f"{e164} has not opted out", field="phone")
    return Response(status_code=204)
