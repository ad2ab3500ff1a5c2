"""Recipient numbers: validated with phonenumbers, normalized to E.164, given a carrier."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberFormat, PhoneNumberType

from suppliers.carriers import carrier_of_mobile

MAX_RAW_LENGTH: Final = 32
# Numbers that can take an SMS; phonenumbers cannot tell mobile from fixed in some plans (US).
_TEXTABLE: Final = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_CANONICAL_CN_MOBILE: Final = re.compile(r"\+861\d{10}")


class InvalidPhone(ValueError):
    """A number that cannot receive our SMS; the message says why."""


@dataclass(frozen=True, slots=True)
class Recipient:
    """A number ready to send to: E.164 and the carrier it is routed by."""

    phone: str
    carrier: str


class PhoneValidator:
    """Turns what clients type (13800000001, +86 138-0000-0001, 0086…) into Recipients."""

    def __init__(self, default_region: str, carrier_prefixes: Mapping[str, str]) -> None:
        self._region = default_region
        self._prefixes = dict(carrier_prefixes)

    def recipient(self, raw: str, carrier: str | None = None) -> Recipient:
        """The recipient for `raw`; `carrier`, when given, overrides the looked-up carrier."""
        number, phone = parse_mobile(raw, self._region)
        return Recipient(phone, carrier or carrier_of_mobile(number, phone, self._prefixes))

    def normalize(self, raw: str) -> str:
        """The E.164 form of `raw`; InvalidPhone when it is not a mobile number."""
        return parse_mobile(raw, self._region)[1]


def parse_mobile(raw: str, default_region: str) -> tuple[PhoneNumber, str]:
    """The parsed number and its E.164 form; InvalidPhone when it is not a mobile number.

    A number without a country code is read as one of `default_region`; a leading "00" is the
    international prefix in CN (so 0086… is +86…), as phonenumbers knows per region.
    """
    if len(raw) > MAX_RAW_LENGTH:
        raise InvalidPhone(f"longer than {MAX_RAW_LENGTH} characters")
    if _CANONICAL_CN_MOBILE.fullmatch(raw):
        # What most clients send, built directly: the same PhoneNumber phonenumbers.parse makes
        # (a test holds them equal) at a quarter of the cost. Validity is still judged below.
        number = PhoneNumber(country_code=86, national_number=int(raw[3:]))
    else:
        try:
            number = phonenumbers.parse(raw, default_region)
        except phonenumbers.NumberParseException:
            raise InvalidPhone(f"not a phone number: {raw!r}") from None
    # number_type runs the same checks as is_valid_number: an invalid number is UNKNOWN.
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        raise InvalidPhone("not a valid number")
    if kind not in _TEXTABLE:
        raise InvalidPhone("not a mobile number")
    return number, phonenumbers.format_number(number, PhoneNumberFormat.E164)
