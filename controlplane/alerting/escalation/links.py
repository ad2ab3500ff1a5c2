"""Signed, expiring acknowledgement links: HMAC-SHA256 over episode, group key and expiry."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from smsplatform.clock import Clock

DEFAULT_LINK_TTL = timedelta(hours=24)
LINK_PATH = "/v1/ack"


class LinkRefused(ValueError):
    """A link whose signature does not match, or that has expired; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SignedLink:
    """What a genuine, unexpired link names: one escalation episode of one group."""

    group_key: str
    episode_id: int


@dataclass(frozen=True)
class AckLinks:
    """Makes and checks `<base>/v1/ack?g=&e=&exp=&sig=` links.

    The link names the episode (`e`), not only the group: a link from an earlier firing of the
    group cannot acknowledge a later one. Opening it shows a confirmation page; only the form's
    POST acknowledges, since link unfurlers and mail scanners fetch every link they see.
    """

    secret: bytes
    base_url: str
    clock: Clock
    ttl: timedelta = DEFAULT_LINK_TTL

    def url(self, group_key: str, episode_id: int) -> str:
        expires = int((self.clock.now() + self.ttl).timestamp())
        query = urlencode(
            {
                "g": group_key,
                "e": episode_id,
                "exp": expires,
                "sig": self._sign(group_key, episode_id, expires),
            }
        )
        return f"{self.base_url.rstrip('/')}{LINK_PATH}?{query}"

    def verify(self, group_key: str, episode: str, expires: str, signature: str) -> SignedLink:
        """What the link names, when it is genuine and unexpired; raises LinkRefused otherwise."""
        if not _is_number(episode):
            raise LinkRefused("e", "e must be the episode's number")
        if not _is_number(expires):
            raise LinkRefused("exp", "exp must be a unix time in seconds")
        expected = self._sign(group_key, int(episode), int(expires))
        # Constant-time, and checked before the expiry so timing says nothing about the secret.
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise LinkRefused("sig", "the link's signature does not match")
        if self.clock.now().timestamp() >= int(expires):
            raise LinkRefused("exp", "the link has expired")
        return SignedLink(group_key, int(episode))

    def _sign(self, group_key: str, episode_id: int, expires: int) -> str:
        # Expiry and episode are digits only, so the NUL separators cannot be forged.
        message = f"{expires}\0{episode_id}\0{group_key}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()
