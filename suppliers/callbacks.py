"""What the receipt readers share: body decoding, push times, shared-token checks and replies."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Final, TypeVar
from urllib.parse import parse_qsl, urlsplit

import msgspec
import orjson

from smsplatform.contracts import NESTED_TOO_DEEPLY
from suppliers.base import CallbackReply
from suppliers.signing import same_signature

# Chinese suppliers write push times in Beijing time without a zone (SUPPLIERS.md, header).
CHINA_TZ: Final = timezone(timedelta(hours=8), "UTC+08:00")
# The query parameter carrying SupplierSettings.callback_token on dialects that sign nothing (C).
CALLBACK_TOKEN_PARAM: Final = "token"
# The dialects verified by that token (the others sign their pushes with the account's secret).
TOKEN_CHECKED_DIALECTS: Final = frozenset({"aliyun", "tencent"})
# `YYMMDDhhmm` is the norm; 12- and 14-digit variants are seen in the wild (SUPPLIERS.md §4).
_COMPACT_FORMATS: Final = {10: "%y%m%d%H%M", 12: "%y%m%d%H%M%S", 14: "%Y%m%d%H%M%S"}

ItemT = TypeVar("ItemT")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever the case of its name (plain dicts are case-sensitive)."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


def query_params(url: str) -> dict[str, str]:
    """The query parameters of `url` (the last value wins for a repeated name)."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def form_pairs(body: bytes) -> list[tuple[str, str]]:
    """An `application/x-www-form-urlencoded` body as (name, value) pairs, in order."""
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise ValueError("body: form is not UTF-8") from exc
    return parse_qsl(text, keep_blank_values=True)


def required(fields: Mapping[str, str], name: str) -> str:
    """A form field that must be present and not empty; ValueError naming it otherwise."""
    value = fields.get(name)
    if not value:
        raise ValueError(f"{name}: required")
    return value


def decode_json_array(body: bytes, item_type: type[ItemT]) -> list[ItemT]:
    """A JSON array body of `item_type` objects; ValueError naming the bad field otherwise."""
    try:
        return msgspec.json.decode(body, type=list[item_type])  # type: ignore[valid-type]
    except msgspec.DecodeError as exc:
        # msgspec names the path, e.g. "Object missing required field `sid` - at `$[0]`".
        raise ValueError(f"body: {exc}") from exc
    except RecursionError:  # msgspec's limit, e.g. on an unknown field holding [[[[...]]]]
        raise ValueError(f"body: {NESTED_TOO_DEEPLY}") from None


def local_time(value: str | None, field: str, tz: timezone = CHINA_TZ) -> datetime | None:
    """`YYYY-MM-DD HH:MM:SS` in `tz` as UTC; None when empty; ValueError naming the field."""
    if not value:
        return None
    try:
        naive = datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ValueError(f"{field}: not YYYY-MM-DD HH:MM:SS: {value!r}") from None
    return _utc(naive, tz, field, value)


def compact_time(value: str | None, field: str, tz: timezone) -> datetime | None:
    """`YYMMDDhhmm` (or its 12/14-digit variants) in `tz` as UTC; None when empty."""
    if not value:
        return None
    text = value.strip()
    layout = _COMPACT_FORMATS.get(len(text))
    if layout is None or not text.isdigit():
        raise ValueError(f"{field}: not YYMMDDhhmm: {value!r}")
    try:
        naive = datetime.strptime(text, layout)
    except ValueError:
        raise ValueError(f"{field}: not a valid date: {value!r}") from None
    return _utc(naive, tz, field, value)


def _utc(naive: datetime, tz: timezone, field: str, value: str) -> datetime:
    try:
        return naive.replace(tzinfo=tz).astimezone(UTC)
    except OverflowError:  # year 1 east of UTC falls before datetime.min
        raise ValueError(f"{field}: out of range: {value!r}") from None


class TokenCheck:
    """Verifies a shared token in the callback URL, for dialects whose pushes carry no signature.

    For Alibaba and Tencent: the token is put in the callback URL configured at the supplier, so
    only the supplier knows the full URL. None: the supplier is known by the address it pushes
    from instead (callback_allowed_ips, which the gateway checks); the registry builds no reader
    with neither.
    """

    def __init__(self, token: str | None) -> None:
        self._token = token or None

    def verify(self, url: str) -> bool:
        if self._token is None:
            return True
        given = query_params(url).get(CALLBACK_TOKEN_PARAM)
        return given is not None and same_signature(self._token, given)


def json_reply(status_code: int, payload: Mapping[str, object]) -> CallbackReply:
    return CallbackReply(status_code, orjson.dumps(payload), "application/json; charset=utf-8")


def text_reply(status_code: int, text: str) -> CallbackReply:
    return CallbackReply(status_code, text.encode(), "text/plain; charset=utf-8")
