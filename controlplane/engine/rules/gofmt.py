"""Go's fmt formatting (`%v`, `printf` verbs) in Python, so translated templates print like Go.

Prometheus renders `{{ $value }}` with Go's `%v` (shortest round-trip digits, exponent form from
1e+06 up and below 1e-04, where Python's repr switches at 1e+16) and `printf` with Go's verbs, whose
wrong-type and missing-argument forms (`%!d(float64=0.5)`, `%!s(MISSING)`) Python's `%` lacks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

# %[flags][width][.precision]verb; `*` widths and `[n]` argument indexes are not supported.
_DIRECTIVE: Final = re.compile(
    r"%(?P<flags>[-+# 0]*)(?P<width>\d+)?(?:\.(?P<prec>\d*))?(?P<verb>.?)"
)
SUPPORTED_VERBS: Final = frozenset("vsqdxXobcUeEfFgGt%")


def go_type(value: object) -> str:
    """The Go type name Prometheus' template data would have for `value`."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map[string]string"
    return "<nil>" if value is None else type(value).__name__


def go_float(value: float) -> str:
    """Go's `%v` of a float64: shortest round-trip digits, exponent form when exp < -4 or ≥ 6."""
    special = _special(value)
    if special is not None:
        return special
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)  # finite, so never 'n'/'N'/'F'
    decimal_exp = len(digits) + exponent - 1
    # strconv's shortest 'g' decides with precision 6, whatever the number of digits.
    if decimal_exp < -4 or decimal_exp >= 6:
        mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
        exponent_sign = "-" if decimal_exp < 0 else "+"
        return f"{'-' if sign else ''}{mantissa}e{exponent_sign}{abs(decimal_exp):02d}"
    return format(Decimal(repr(value)).normalize(), "f")


def go_g(value: float, precision: int) -> str:
    """Go's `%.Ng`: like C's, except infinities are `+Inf`/`-Inf` and not-a-number is `NaN`."""
    special = _special(value)
    if special is not None:
        return special
    return f"%.{precision}g" % value


def go_sprint(value: object) -> str:
    """How Go's text/template prints a value (`{{ x }}`): `%v`, with maps as `map[k:v ...]`."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        # Go's fmt sorts map keys since Go 1.12, so the output is stable.
        return "map[" + " ".join(f"{k}:{go_sprint(value[k])}" for k in sorted(value)) + "]"
    if value is None:
        return "<nil>"
    return str(value)


def format_problem(format_text: str) -> str | None:
    """Why Go's `printf` form `format_text` cannot be rendered here, or None when it can."""
    for match in _DIRECTIVE.finditer(format_text):
        verb = match.group("verb")
        if verb == "":
            return "the format ends with a lone %"
        if verb in "*[":
            return "`*` widths and `[n]` argument indexes are not supported"
        if verb not in SUPPORTED_VERBS:
            return f"verb %{verb} is not supported (use one of %v %s %q %d %x %f %e %g %t)"
    return None


def go_sprintf(format_text: str, *args: object) -> str:
    """Go's `fmt.Sprintf` for the verbs in SUPPORTED_VERBS, with Go's error forms."""
    out: list[str] = []
    next_arg = 0
    position = 0
    for match in _DIRECTIVE.finditer(format_text):
        out.append(format_text[position : match.start()])
        position = match.end()
        verb = match.group("verb")
        if verb == "%":
            out.append("%")
            continue
        if verb == "":
            out.append("%!(NOVERB)")
            continue
        if next_arg >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[next_arg]
        next_arg += 1
        flags = match.group("flags")
        width = match.group("width") or ""
        prec = match.group("prec")
        out.append(_format_one(verb, flags, width, prec, arg))
    out.append(format_text[position:])
    if next_arg < len(args):
        extra = ", ".join(f"{go_type(a)}={go_sprint(a)}" for a in args[next_arg:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _format_one(verb: str, flags: str, width: str, prec: str | None, arg: object) -> str:
    spec = flags + width + ("." + prec if prec is not None else "")
    if verb == "v":
        return _pad(go_sprint(arg), flags, width)
    if verb == "t" and isinstance(arg, bool):
        return _pad(go_sprint(arg), flags, width)
    if isinstance(arg, bool):
        return _bad_verb(verb, arg)
    if isinstance(arg, str):
        if verb == "s":
            return f"%{spec}s" % arg
        if verb == "q":
            return _pad(_go_quote(arg), flags, width)
        if verb in "xX":
            hex_text = arg.encode().hex()
            return _pad(hex_text.upper() if verb == "X" else hex_text, flags, width)
        return _bad_verb(verb, arg)
    if isinstance(arg, int):
        if verb in "dxXo":
            return f"%{spec}{verb}" % arg
        if verb == "b":
            return _pad(format(arg, "b"), flags, width)
        if verb == "c":
            return _pad(chr(arg), flags, width)
        if verb == "q":
            return _pad(_go_quote(chr(arg), quote="'"), flags, width)
        if verb == "U":
            return _pad(f"U+{arg:04X}", flags, width)
        return _bad_verb(verb, arg)
    if isinstance(arg, float):
        if verb not in "eEfFgGxX":
            return _bad_verb(verb, arg)
        special = _special(arg)
        if special is not None:
            if "+" in flags and special == "NaN":
                special = "+NaN"
            return _pad(special, flags.replace("0", ""), width)
        if verb in "xX":
            return _pad(_go_hex_float(arg, upper=verb == "X"), flags, width)
        if verb in "gG" and prec is None:
            text = go_float(arg)
            if "+" in flags and arg >= 0:
                text = "+" + text
            return _pad(text.upper() if verb == "G" else text, flags, width)
        return f"%{spec}{verb}" % arg
    return _bad_verb(verb, arg)


def _bad_verb(verb: str, arg: object) -> str:
    return f"%!{verb}({go_type(arg)}={go_sprint(arg)})"


def _pad(text: str, flags: str, width: str) -> str:
    if not width:
        return text
    size = int(width)
    if "-" in flags:
        return text.ljust(size)
    return text.rjust(size, "0" if "0" in flags and text[:1].isdigit() else " ")


def _special(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return None


def _go_hex_float(value: float, upper: bool) -> str:
    # Go's %x of a float64: 0x1.8p+00 (shortest mantissa, two-digit exponent).
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    mantissa, _, exponent = float.hex(abs(value)).partition("p")
    mantissa = mantissa.rstrip("0").rstrip(".")
    exp = int(exponent)
    text = f"{sign}{mantissa}p{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return text.upper() if upper else text


_QUOTE_ESCAPES: Final = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
}


def _go_quote(text: str, quote: str = '"') -> str:
    # strconv.Quote: printable runes stay, the rest become Go escapes.
    out = [quote]
    for char in text:
        if char == quote:
            out.append("\\" + quote)
        elif char in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append(quote)
    return "".join(out)
