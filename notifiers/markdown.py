"""Values made literal in the DingTalk and WeCom markdown of a message: no link, no emphasis.

Label values, annotations and summaries come from what is monitored (a supplier's error text, a
tenant name) and must read exactly as they are: `[click](http://evil)` must not become a link,
`*x*` must not turn bold, `<@all>` must not mention anyone. Each character that opens markup is
backslash-escaped (CommonMark's escape, which both channels' renderers follow); a line break
becomes a space, so a value cannot start a heading, list or quote on a line of its own.
"""

from __future__ import annotations

import re
from typing import Final

# Inline markup anywhere: code, emphasis, strike-through, links and images, HTML and mentions,
# table cells, and the backslash itself.
_INLINE: Final = re.compile(r"([\\`*_~\[\]<>|])")
# Block markup where the value starts a line: headings, quotes, lists, rules.
_LINE_START: Final = re.compile(r"^(\s*)([#>+\-=]|\d+[.)])")
_BREAKS: Final = re.compile(r"[\r\n\u2028\u2029]+")


def escape_markdown(value: object) -> str:
    """`value` as markdown text that renders as exactly that text."""
    text = _BREAKS.sub(" ", str(value))
    text = _INLINE.sub(r"\\\1", text)
    return _LINE_START.sub(_escape_block, text)


def _escape_block(match: re.Match[str]) -> str:
    marker = match.group(2)
    if marker[0].isdigit():
        return f"{match.group(1)}{marker[:-1]}\\{marker[-1]}"
    return f"{match.group(1)}\\{marker}"
