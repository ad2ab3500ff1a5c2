"""Puts accepted messages on `sms.submit`, each under its message id, and says what the bus took.

The message id is the bus message id, so a message published again (a retry after a lost
answer, the rest of a batch resumed under its Idempotency-Key) is one message on the bus.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final, Literal

import msgspec

from smsplatform.bus import SUBMIT, Bus, PublishFailed
from smsplatform.contracts import OutboundMessage

log = logging.getLogger(__name__)

_encoder: Final = msgspec.msgpack.Encoder()

# What a send put on the bus when the bus failed part of it: nothing (provably), part of it, or
# nothing confirmed though some may be held (an answer was lost).
Sent = Literal["none", "partly", "unknown"]


@dataclass(frozen=True, slots=True)
class Shortfall:
    """The messages of a publish the bus did not confirm."""

    unpublished: list[OutboundMessage]
    total: int
    maybe_held: bool

    @property
    def sent(self) -> Sent:
        if len(self.unpublished) < self.total:
            return "partly"
        return "unknown" if self.maybe_held else "none"


async def publish(bus: Bus, messages: list[OutboundMessage]) -> Shortfall | None:
    """Publish the messages, one bus message each; None once the bus holds them all."""
    payloads = [_encoder.encode(message) for message in messages]
    ids = [message.message_id for message in messages]
    try:
        if len(messages) == 1:
            await bus.publish(SUBMIT, payloads[0], msg_id=ids[0])
        else:
            await bus.publish_many(SUBMIT, payloads, msg_ids=ids)
    except PublishFailed as failed:
        shortfall = Shortfall(
            [messages[index] for index in failed.unconfirmed], len(messages), failed.maybe_held
        )
    except Exception:
        # Not an answer of the bus's own: whether anything went is unknown.
        log.exception("event=api_publish_error messages=%d", len(messages))
        shortfall = Shortfall(messages, len(messages), maybe_held=True)
    else:
        return None
    log.warning(
        "event=api_publish_failed tenant=%s messages=%d unpublished=%d sent=%s",
        messages[0].tenant,
        len(messages),
        len(shortfall.unpublished),
        shortfall.sent,
    )
    return shortfall
