"""Message ids: 26-character strings that sort by creation time and never repeat (ULID-like)."""

from __future__ import annotations

import base64
import os
from typing import Final

from smsplatform.clock import Clock

_RANDOM_BITS: Final = 80
_RANDOM_MAX: Final = (1 << _RANDOM_BITS) - 1
# RFC 4648 base32 orders "A" < "2"; mapped digit for digit onto Crockford's alphabet, which is
# in ASCII order, the text sorts like the number.
_TO_CROCKFORD: Final = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)


class MessageIdFactory:
    """Makes ids from 48 bits of milliseconds and 80 random bits.

    Within one millisecond the random part counts up from the first id's, so ids made by one
    process keep their order; ids made by different processes differ by their random bits.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last_ms = -1
        self._last_random = 0

    def next(self) -> str:
        ms = int(self._clock.now().timestamp() * 1000)
        if ms > self._last_ms:
            self._last_ms = ms
            self._last_random = int.from_bytes(os.urandom(10))
        elif self._last_random < _RANDOM_MAX:
            self._last_random += 1  # same millisecond (or the clock went back): keep counting up
        else:
            self._last_ms += 1
            self._last_random = 0
        value = (self._last_ms << _RANDOM_BITS) | self._last_random
        # 128 bits → 26 base32 characters (the last one holds 3 bits and 2 zero bits of padding).
        return base64.b32encode(value.to_bytes(16))[:26].translate(_TO_CROCKFORD).decode()
