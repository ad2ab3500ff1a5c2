"""Request bodies of the send API, decoded with msgspec; errors name the offending field."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec

from sendtier.api.refusals import InvalidRequest
from smsplatform.contracts import MessageClass, contract_error

Carrier = Literal["cmcc", "cucc", "ctcc", "cbn"]
Params = dict[str, str]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class SendRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """POST /v1/messages: one message to one number."""

    phone: Text
    template_id: Text
    params: Params = {}
    # Defaults to the template's class; given, it must match it.
    message_class: MessageClass | None = None
    signature: Text | None = None  # one of the tenant's approved signatures; default its first
    carrier: Carrier | None = None  # overrides the carrier looked up for the number
    supplier: Text | None = None  # pin the send to this supplier


class BatchRecipient(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    phone: Text
    params: Params = {}  # over the batch's shared params
    carrier: Carrier | None = None


class BatchRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """POST /v1/messages/batch: one template to many numbers (at most api.max_batch)."""

    template_id: Text
    recipients: Annotated[list[BatchRecipient], msgspec.Meta(min_length=1)]
    params: Params = {}
    message_class: MessageClass | None = None
    signature: Text | None = None
    supplier: Text | None = None


class OptOutRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """POST /v1/opt-outs."""

    phone: Text
    reason: Annotated[str, msgspec.Meta(max_length=255)] = ""


RequestT = TypeVar("RequestT", SendRequest, BatchRequest, OptOutRequest)

_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {
    kind: msgspec.json.Decoder(kind) for kind in (SendRequest, BatchRequest, OptOutRequest)
}


def decode_request(kind: type[RequestT], body: bytes) -> RequestT:
    """The request in `body`, or InvalidRequest naming the field (`recipients[3].phone`)."""
    try:
        return _decoders[kind].decode(body)  # type: ignore[no-any-return]
    except msgspec.MsgspecError as exc:
        problem = contract_error(exc)
        # msgspec writes a value inside a mapping as `params[...]`: the mapping is the field.
        field = problem.field.replace("[...]", "") if problem.field else None
        raise InvalidRequest("invalid request", field, detail=problem.message) from None
