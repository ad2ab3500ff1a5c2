"""Which carrier a phone number belongs to: a configured prefix table first, then phonenumbers."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Final

import phonenumbers
from phonenumbers import carrier as carrier_data

CARRIERS: Final = ("cmcc", "cucc", "ctcc", "cbn", "unknown")
# phonenumbers' English names for the mainland carriers (SUPPLIERS.md §5).
_BY_NAME: Final = {
    "China Mobile": "cmcc",
    "China Unicom": "cucc",
    "China Telecom": "ctcc",
    "China Broadnet": "cbn",
}


def carrier_of(e164: str, prefixes: Mapping[str, str] | None = None) -> str:
    """The carrier of an E.164 number: `cmcc`, `cucc`, `ctcc`, `cbn`, or `unknown`.

    `prefixes` maps digits after the `+` (e.g. "86170") to a carrier and wins over the library's
    data; the longest matching prefix counts. Porting is ignored, as in the library: a prefix tells
    the original carrier only.
    """
    found = _prefix_carrier(e164, prefixes)
    return found if found is not None else _library_carrier(e164)


def carrier_of_mobile(
    number: phonenumbers.PhoneNumber, e164: str, prefixes: Mapping[str, str] | None = None
) -> str:
    """carrier_of for a number the caller has parsed and found to be a valid mobile number.

    For hot paths (the send API): it saves parsing and validating the number a second time.
    """
    found = _prefix_carrier(e164, prefixes)
    if found is not None:
        return found
    return _BY_NAME.get(carrier_data.name_for_valid_number(number, "en"), "unknown")


def _prefix_carrier(e164: str, prefixes: Mapping[str, str] | None) -> str | None:
    if prefixes:
        digits = e164.lstrip("+")
        for length in range(len(digits), 0, -1):
            if (found := prefixes.get(digits[:length])) is not None:
                return found
    return None


@lru_cache(maxsize=65536)
def _library_carrier(e164: str) -> str:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "unknown"
    return _BY_NAME.get(carrier_data.name_for_number(number, "en"), "unknown")
