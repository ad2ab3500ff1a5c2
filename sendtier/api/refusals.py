"""Why the API refuses a send: each refusal knows its HTTP status and the JSON body it shows."""

from __future__ import annotations

from typing import Any, ClassVar

from sendtier.api.ratelimit import LimitExceeded


class Refusal(Exception):
    """A request (or one recipient of a batch) the API will not send; `field` names the culprit."""

    status: ClassVar[int] = 422
    reason: str = "invalid"  # the label of the refused-messages metric

    def __init__(self, error: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.field = field
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "field": self.field, **self.extra}

    def headers(self) -> dict[str, str] | None:
        return None


class InvalidRequest(Refusal):
    """The request does not fit: a bad number, an unknown template, a missing parameter..."""


class OptedOut(Refusal):
    """The recipient opted out of the tenant's marketing."""

    reason = "opted_out"


class RateLimited(Refusal):
    """A tenant or per-number limit would be broken; retry after `retry_after_s`."""

    status = 429

    def __init__(self, exceeded: LimitExceeded, field: str | None = None) -> None:
        super().__init__(
            f"rate limit {exceeded.limit} exceeded",
            field,
            limit=exceeded.limit,
            retry_after_s=round(exceeded.retry_after_s, 3),
        )
        self.retry_after = exceeded.retry_after_header
        self.retry_after_s = exceeded.retry_after_s
        self.reason = exceeded.limit

    def headers(self) -> dict[str, str]:
        return {"Retry-After": self.retry_after}


class KeyInFlight(Refusal):
    """The first request under this Idempotency-Key is still being answered."""

    status = 409

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class Unavailable(Refusal):
    """Nothing was sent, and nothing of this request will be: `"sent": "none"` says so.

    A client (the alert notifier) may then send another way without sending twice.
    """

    status = 503
    reason = "unavailable"

    def __init__(self, error: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(error, field, **{"sent": "none", **extra})

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class PartlySent(Unavailable):
    """The bus confirmed only part of the request's messages (`sent`: partly), or none though
    some may be on it (`sent`: unknown). A retry under the same Idempotency-Key publishes only
    the rest; without a key, a retry would send the confirmed ones again."""

    def __init__(self, unsent: int, total: int, sent: str) -> None:
        super().__init__(
            f"the message bus confirmed {total - unsent} of {total} messages; retry with the "
            "same Idempotency-Key to publish the rest",
            None,
            sent=sent,
            unsent=unsent,
            total=total,
        )


class BodyTooLarge(Refusal):
    """The request body is larger than the API reads."""

    status = 413
