"""Request and callback signatures of the supplier dialects, as pure sign and verify functions.

Shared by the adapters (which sign submits and verify pushes) and the simulators (which verify
submits and sign pushes), so both sides of a test run the one implementation of each algorithm
described in SUPPLIERS.md §1-4. Every check compares bytes (`same_signature`): a signature that
arrived with non-ASCII characters is a wrong signature, not an error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit


def same_signature(expected: str, given: str) -> bool:
    """`given` equals `expected`, compared in constant time as UTF-8 bytes.

    `hmac.compare_digest` raises TypeError for str with non-ASCII characters, which a header
    or parameter from outside may carry; as bytes they simply do not match.
    """
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))


# --- Alibaba Cloud RPC signature, version 1.0 (SUPPLIERS.md §1, WIRE.md §4) ----------------------
ALIYUN_TIMESTAMP_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"


def aliyun_percent_encode(value: str) -> str:
    """Alibaba's percent-encoding: RFC 3986 unreserved kept, space `%20`, `*` `%2A`, `~` kept."""
    # quote() with safe="~" keeps exactly A-Za-z0-9-_.~ and encodes the rest over UTF-8, upper-case.
    return quote(value, safe="~")


def aliyun_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """`METHOD&%2F&` + percentEncode(sorted canonical query), every parameter but `Signature`."""
    canonical = "&".join(
        f"{aliyun_percent_encode(name)}={aliyun_percent_encode(params[name])}"
        for name in sorted(params)
        if name != "Signature"
    )
    return f"{method.upper()}&%2F&{aliyun_percent_encode(canonical)}"


def aliyun_rpc_signature(method: str, params: Mapping[str, str], secret: str) -> str:
    """Base64(HMAC-SHA1(secret + "&", string to sign)): the `Signature` parameter's value."""
    digest = hmac.new(
        f"{secret}&".encode(), aliyun_string_to_sign(method, params).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


def aliyun_rpc_signature_valid(method: str, params: Mapping[str, str], secret: str) -> bool:
    """True when `params["Signature"]` is the signature of the other parameters (constant time)."""
    given = params.get("Signature")
    if given is None:
        return False
    return same_signature(aliyun_rpc_signature(method, params, secret), given)


def aliyun_timestamp(at: datetime) -> str:
    """The `Timestamp` parameter for `at`: UTC `yyyy-MM-ddTHH:mm:ssZ`."""
    return at.astimezone(UTC).strftime(ALIYUN_TIMESTAMP_FORMAT)


def aliyun_parse_timestamp(value: str) -> datetime:
    """The instant of a `Timestamp` parameter; raises ValueError on any other format."""
    return datetime.strptime(value, ALIYUN_TIMESTAMP_FORMAT).replace(tzinfo=UTC)


# --- Tencent Cloud API 3.0, TC3-HMAC-SHA256 (SUPPLIERS.md §2) ------------------------------------
TC3_ALGORITHM: Final = "TC3-HMAC-SHA256"


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def tencent_tc3_signature(
    secret_key: str,
    service: str,
    host: str,
    timestamp: int,
    payload: bytes,
    content_type: str = "application/json; charset=utf-8",
) -> str:
    """The hex `Signature=` of a TC3 Authorization for `POST /` signing content-type;host.

    `timestamp` is the `X-TC-Timestamp` (Unix seconds); the credential date is its UTC date.
    """
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical_headers = f"content-type:{content_type.lower()}\nhost:{host.lower()}\n"
    canonical_request = f"POST\n/\n\n{canonical_headers}\ncontent-type;host\n{_sha256_hex(payload)}"
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = (
        f"{TC3_ALGORITHM}\n{timestamp}\n{scope}\n{_sha256_hex(canonical_request.encode())}"
    )
    secret_date = _hmac_sha256(f"TC3{secret_key}".encode(), date)
    secret_service = _hmac_sha256(secret_date, service)
    secret_signing = _hmac_sha256(secret_service, "tc3_request")
    return hmac.new(secret_signing, string_to_sign.encode(), hashlib.sha256).hexdigest()


def tencent_tc3_authorization(
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    timestamp: int,
    payload: bytes,
    content_type: str = "application/json; charset=utf-8",
) -> str:
    """The full `Authorization` header value for a TC3-signed `POST /` (e.g. service `sms`)."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    signature = tencent_tc3_signature(secret_key, service, host, timestamp, payload, content_type)
    return (
        f"{TC3_ALGORITHM} Credential={secret_id}/{date}/{service}/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )


@dataclass(frozen=True, slots=True)
class Tc3Authorization:
    """The parts of a TC3 `Authorization` header; `parse` raises ValueError if it is malformed."""

    secret_id: str
    date: str
    service: str
    signed_headers: str
    signature: str

    @classmethod
    def parse(cls, header: str) -> Tc3Authorization:
        algorithm, _, rest = header.strip().partition(" ")
        if algorithm != TC3_ALGORITHM:
            raise ValueError("Authorization: algorithm is not TC3-HMAC-SHA256")
        parts: dict[str, str] = {}
        for item in rest.split(","):
            key, sep, value = item.strip().partition("=")
            if not sep:
                raise ValueError(f"Authorization: malformed part {item.strip()!r}")
            parts[key] = value
        try:
            credential = parts["Credential"].split("/")
            signed_headers, signature = parts["SignedHeaders"], parts["Signature"]
        except KeyError as missing:
            raise ValueError(f"Authorization: missing {missing.args[0]}") from None
        if len(credential) != 4 or credential[3] != "tc3_request":
            raise ValueError("Authorization: Credential is not <id>/<date>/<service>/tc3_request")
        return cls(credential[0], credential[1], credential[2], signed_headers, signature)


def tencent_tc3_authorization_valid(
    authorization: str,
    secret_key: str,
    host: str,
    timestamp: int,
    payload: bytes,
    content_type: str = "application/json; charset=utf-8",
) -> bool:
    """True when `authorization` signs this request with `secret_key` (its secret id unchecked)."""
    try:
        parsed = Tc3Authorization.parse(authorization)
    except ValueError:
        return False
    expected_date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    if parsed.date != expected_date or parsed.signed_headers != "content-type;host":
        return False
    expected = tencent_tc3_signature(
        secret_key, parsed.service, host, timestamp, payload, content_type
    )
    return same_signature(expected, parsed.signature)


# --- Twilio X-Twilio-Signature (SUPPLIERS.md §3) -------------------------------------------------
TwilioParams = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]


def _twilio_pairs(params: TwilioParams) -> list[tuple[str, str]]:
    if isinstance(params, Mapping):
        pairs: list[tuple[str, str]] = []
        for name, value in params.items():
            values = [value] if isinstance(value, str) else list(value)
            pairs.extend((name, each) for each in values)
        return pairs
    return list(params)


def twilio_signature(auth_token: str, url: str, params: TwilioParams) -> str:
    """Base64(HMAC-SHA1(auth token, url + sorted name+value of every form parameter)).

    `params` is a mapping (values may be lists for repeated names) or (name, value) pairs.
    """
    # Sorting pairs orders by name then value, in code-point order, as Twilio's helpers do.
    signed = url + "".join(name + value for name, value in sorted(_twilio_pairs(params)))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


_DEFAULT_PORTS: Final = {"https": 443, "http": 80}


def _twilio_url_variants(url: str) -> list[str]:
    """The URL as given, plus the same with the default port added or removed."""
    parts = urlsplit(url)
    default_port = _DEFAULT_PORTS.get(parts.scheme)
    if default_port is None or parts.hostname is None:
        return [url]
    userinfo, _, _ = parts.netloc.rpartition("@")
    prefix = f"{userinfo}@" if userinfo else ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if parts.port == default_port:
        other = prefix + host
    elif parts.port is None:
        other = f"{prefix}{host}:{default_port}"
    else:
        return [url]
    return [url, urlunsplit(parts._replace(netloc=other))]


def twilio_signature_valid(auth_token: str, url: str, params: TwilioParams, signature: str) -> bool:
    """True when `signature` matches the URL with or without its default port (constant time)."""
    pairs = _twilio_pairs(params)
    return any(
        same_signature(twilio_signature(auth_token, variant, pairs), signature)
        for variant in _twilio_url_variants(url)
    )


# --- CMPP-ish HTTP form (SUPPLIERS.md §4, our convention) ----------------------------------------
def cmpp_submit_sign(secret: str, account: str, ts: int | str) -> str:
    """The submit/pull `sign`: hex HMAC-SHA256(secret, account + ts)."""
    return hmac.new(secret.encode(), f"{account}{ts}".encode(), hashlib.sha256).hexdigest()


def cmpp_submit_sign_valid(secret: str, account: str, ts: int | str, sign: str) -> bool:
    """True when `sign` is the submit sign for account and ts (constant time; skew not checked)."""
    return same_signature(cmpp_submit_sign(secret, account, ts), sign.lower())


def cmpp_push_signed_string(fields: Mapping[str, str]) -> str:
    """Sorted `name=value` joined by `&`, names and values percent-encoded as Alibaba's are.

    Encoded, a value cannot carry a `&` or `=` of its own: `{"a": "1&b=2"}` and
    `{"a": "1", "b": "2"}` sign differently, so no two field sets sign alike.
    """
    return "&".join(
        f"{aliyun_percent_encode(name)}={aliyun_percent_encode(fields[name])}"
        for name in sorted(fields)
    )


def cmpp_push_signature(secret: str, fields: Mapping[str, str]) -> str:
    """The receipt push `X-Sim-Signature`: hex HMAC-SHA256(secret, the signed string)."""
    signed = cmpp_push_signed_string(fields)
    return hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()


def cmpp_push_signature_valid(secret: str, fields: Mapping[str, str], signature: str) -> bool:
    """True when `signature` is the push signature of `fields` (constant time)."""
    return same_signature(cmpp_push_signature(secret, fields), signature.lower())


def cmpp_batch_push_signature(secret: str, body: bytes) -> str:
    """The `X-Sim-Signature` of a `batch=1` (JSON array) push: hex HMAC-SHA256 over the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def cmpp_batch_push_signature_valid(secret: str, body: bytes, signature: str) -> bool:
    """True when `signature` is the batch push signature of `body` (constant time)."""
    return same_signature(cmpp_batch_push_signature(secret, body), signature.lower())
