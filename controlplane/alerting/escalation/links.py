"""Signed, expiring acknowledgement links: HMAC-SHA256 over group key and expiry."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from controlplane.clock import Clock

DEFAULT_LINK_TTL = timedelta(hours=24)


class LinkRefused(ValueError):
    """A link whose signature does not match, or that has expired; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AckLinks:
    """Makes and checks `GET <base>/v1/ack?g=&exp=&sig=` links."""

    secret: bytes
    base_url: str
    clock: Clock
    ttl: timedelta = DEFAULT_LINK_TTL

    def url(self, group_key: str) -> str:
        expires = int((self.clock.now() + self.ttl).timestamp())
        query = urlencode({"g": group_key, "exp": expires, "sig": self._sign(group_key, expires)})
        return f"{self.base_url.rstrip('/')}/v1/ack?{query}"

    def verify(self, group_key: str, expires: str, signature: str) -> None:
        """Returns when the link is genuine and unexpired; raises LinkRefused otherwise."""
        if not expires.isdigit():
            raise LinkRefused("exp", "exp must be a unix time in seconds")
        expected = self._sign(group_key, int(expires))
        # Constant-time, and checked before the expiry so timing says nothing about the secret.
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise LinkRefused("sig", "the link's signature does not match")
        if self.clock.now().timestamp() >= int(expires):
            raise LinkRefused("exp", "the link has expired")

    def _sign(self, group_key: str, expires: int) -> str:
        # The expiry is digits only, so the NUL separator cannot be forged from either side.
        message = f"{expires}\0{group_key}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()
