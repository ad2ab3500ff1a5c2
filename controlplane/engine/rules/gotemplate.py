"""Translation of Prometheus' Go-template forms (`{{ $labels.x }}`, `{{ humanize $value }}`).

Prometheus rule files template annotations with Go's text/template. We do not run Go templates:
each `{{ ... }}` action is parsed and rewritten as a Jinja expression over the same data
(`labels`, `value`, `external_labels`, `external_url`) and functions with Prometheus' behaviour.
Anything with no faithful translation (`range`, `if`, `with`, variables, `query`) is refused with
a message naming the action, so a rule never renders differently from Prometheus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from controlplane.engine.rules.gofmt import format_problem

# Go data (`$labels`, `.Labels`) → the name the Jinja template sees.
_DATA: Final = {
    "labels": "labels",
    "Labels": "labels",
    "externalLabels": "external_labels",
    "ExternalLabels": "external_labels",
    "value": "value",
    "Value": "value",
    "externalURL": "external_url",
    "ExternalURL": "external_url",
}
_MAPS: Final = frozenset({"labels", "external_labels"})
# Prometheus function → (Jinja global, smallest and largest argument count; None = any).
FUNCTIONS: Final[dict[str, tuple[str, int, int | None]]] = {
    "humanize": ("humanize", 1, 1),
    "humanize1024": ("humanize1024", 1, 1),
    "humanizeDuration": ("humanizeDuration", 1, 1),
    "humanizePercentage": ("humanizePercentage", 1, 1),
    "humanizeTimestamp": ("humanizeTimestamp", 1, 1),
    "printf": ("printf", 1, None),
    "toUpper": ("toUpper", 1, 1),
    "toLower": ("toLower", 1, 1),
    "title": ("title", 1, 1),
    "externalURL": ("external_url", 0, 0),
}
_KEYWORDS: Final = frozenset(
    {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
)
_NO_TRANSLATION: Final = {
    "query": "it runs a PromQL query while rendering",
    "first": "it works on query results",
    "label": "it works on query results",
    "strvalue": "it works on query results",
    "sortByLabel": "it works on query results",
    "args": "it feeds `template` calls",
    "tmpl": "it feeds `template` calls",
    "reReplaceAll": "Go's RE2 replacement syntax differs from Python's",
    "match": "Go's RE2 syntax differs from Python's",
    "safeHtml": "annotations are plain text",
    "graphLink": "it needs Prometheus' web UI",
    "tableLink": "it needs Prometheus' web UI",
    "pathPrefix": "it needs Prometheus' web UI",
}
# Jinja names that cannot follow a dot as attribute names.
_JINJA_RESERVED: Final = frozenset(
    {"and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "True", "False", "None"}
)
_TOKEN: Final = re.compile(
    r"""(?P<space>\s+)
    |(?P<string>"(?:[^"\\\n]|\\.)*")
    |(?P<raw>`[^`]*`)
    |(?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?))
    |(?P<var>\$[A-Za-z_0-9]*(?:\.[A-Za-z_][A-Za-z_0-9]*)*)
    |(?P<field>(?:\.[A-Za-z_][A-Za-z_0-9]*)+|\.)
    |(?P<ident>[A-Za-z_][A-Za-z_0-9]*)
    |(?P<declare>:=|=)
    |(?P<punct>[|(),])""",
    re.VERBOSE,
)
_GO_ESCAPE: Final = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)")
_SIMPLE_ESCAPES: Final = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", '"': '"', "'": "'",
}  # fmt: skip


class TranslationError(ValueError):
    """A Go-template form with no faithful Jinja equivalent."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def looks_like_go_template(text: str) -> bool:
    """True when an action uses Go-only syntax: `$x`, `.Field`, `/* */`, keywords, `f arg`."""
    try:
        actions = _actions(text)
    except TranslationError:
        return False  # unbalanced braces: let Jinja's parser say where
    for _, body, _ in actions:
        stripped = body.strip()
        if stripped.startswith(("/*", ".")) or "$" in _without_strings(stripped):
            return True
        words = stripped.split(None, 1)
        if words and words[0] in _KEYWORDS:
            return True
        if len(words) == 1 and words[0] in FUNCTIONS:
            return True  # `{{ humanize }}`: a Go call with its argument missing
        # `humanize $value` or `printf "%d" 3`: a Go call, not a Jinja expression.
        if (
            len(words) == 2
            and (words[0] in FUNCTIONS or words[0] in _NO_TRANSLATION)
            and not words[1].startswith(("|", "(", ")", ",", ".", "[", "+", "-", "*", "/", "~"))
        ):
            return True
    return False


def translate(text: str) -> str:
    """The Jinja source rendering `text` as Prometheus renders it; TranslationError if it can't."""
    pieces: list[str] = []
    position = 0
    trim_next = False
    for start, body, end in _actions(text):
        literal = text[position:start]
        trim_left = body.startswith("-") and body[1:2].isspace()
        trim_right = body.endswith("-") and body[-2:-1].isspace()
        inner = body[1 if trim_left else 0 : len(body) - (1 if trim_right else 0)]
        if trim_next:
            literal = literal.lstrip()
        if trim_left:
            literal = literal.rstrip()
        pieces.append(_literal(literal))
        stripped = inner.strip()
        if not (stripped.startswith("/*") and stripped.endswith("*/")):
            pieces.append("{{ " + _translate_action(inner, text[start:end]) + " }}")
        trim_next = trim_right
        position = end
    tail = text[position:]
    pieces.append(_literal(tail.lstrip() if trim_next else tail))
    return "".join(pieces)


def _actions(text: str) -> list[tuple[int, str, int]]:
    """(start, body, end) of each `{{ body }}`, skipping `}}` inside quoted strings."""
    found: list[tuple[int, str, int]] = []
    position = 0
    while (start := text.find("{{", position)) != -1:
        cursor = start + 2
        quote: str | None = None
        while cursor < len(text):
            char = text[cursor]
            if quote:
                if char == "\\" and quote == '"':
                    cursor += 1
                elif char == quote:
                    quote = None
            elif char in '"`':
                quote = char
            elif text.startswith("}}", cursor):
                break
            cursor += 1
        if cursor >= len(text):
            raise TranslationError(f"unclosed action starting at {text[start : start + 20]!r}")
        found.append((start, text[start + 2 : cursor], cursor + 2))
        position = cursor + 2
    return found


def _without_strings(body: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"|`[^`]*`', '""', body)


def _literal(text: str) -> str:
    if not text:
        return ""
    if "{" not in text and "}" not in text:
        return text
    # Text that Jinja would read as syntax (`{%`, `{#`) is emitted as a string expression.
    return "{{ " + _jinja_string(text) + " }}"


def _jinja_string(value: str) -> str:
    escaped = value.encode("unicode_escape").decode("ascii").replace("'", "\\'")
    return f"'{escaped}'"


def _translate_action(body: str, action: str) -> str:
    tokens = _tokenize(body, action)
    if not tokens:
        raise TranslationError(f"{action}: empty action")
    first = tokens[0]
    if first.kind == "ident" and first.text in _KEYWORDS:
        raise TranslationError(
            f"{action}: `{first.text}` has no sandbox equivalent; write the annotation as a "
            "Jinja template instead ({% if %}, {% for %})"
        )
    if any(t.kind == "declare" for t in tokens):
        raise TranslationError(f"{action}: template variables cannot be declared")
    parser = _Parser(tokens, action)
    expression = parser.pipeline()
    if parser.position != len(tokens):
        raise TranslationError(f"{action}: unexpected `{tokens[parser.position].text}`")
    return expression


def _tokenize(body: str, action: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(body):
        match = _TOKEN.match(body, position)
        if match is None:
            raise TranslationError(f"{action}: unexpected character {body[position]!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group()))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over one action: pipeline := command ('|' command)*."""

    def __init__(self, tokens: list[_Token], action: str) -> None:
        self.tokens = tokens
        self.position = 0
        self.action = action

    def _peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _fail(self, message: str) -> TranslationError:
        return TranslationError(f"{self.action}: {message}")

    def pipeline(self) -> str:
        expression = self._command(piped=None)
        while (token := self._peek()) is not None and token.text == "|":
            self.position += 1
            expression = self._command(piped=expression)
        return expression

    def _command(self, piped: str | None) -> str:
        token = self._peek()
        if token is None or token.text in "|)":
            raise self._fail("missing command")
        if token.kind == "ident" and token.text not in ("true", "false"):
            self.position += 1
            args = self._arguments()
            if piped is not None:
                args.append(piped)
            return self._call(token.text, args)
        if piped is not None:
            raise self._fail(f"`{token.text}` is not a function, so it cannot take a pipeline")
        operand = self._operand()
        if self._arguments():
            raise self._fail(f"`{token.text}` is not a function, so it cannot take arguments")
        return operand

    def _arguments(self) -> list[str]:
        args: list[str] = []
        while (token := self._peek()) is not None and token.text not in ("|", ")"):
            if token.kind == "ident" and token.text not in ("true", "false"):
                raise self._fail(f"wrap the call to `{token.text}` in parentheses")
            args.append(self._operand())
        return args

    def _operand(self) -> str:
        token = self._peek()
        if token is None:
            raise self._fail("missing operand")
        self.position += 1
        if token.text == "(":
            inner = self.pipeline()
            closing = self._peek()
            if closing is None or closing.text != ")":
                raise self._fail("unclosed parenthesis")
            self.position += 1
            return f"({inner})"
        if token.kind in ("string", "raw"):
            try:
                return _jinja_string(_go_string(token.text))
            except TranslationError as exc:
                raise self._fail(str(exc)) from None
        if token.kind == "number":
            return _number(token.text, self.action)
        if token.kind == "ident":  # true / false
            return token.text
        if token.kind == "var":
            name, *fields = token.text[1:].split(".")
            return self._data(name, fields, token.text)
        if token.kind == "field":
            if token.text == ".":
                raise self._fail("`.` (the whole template data) has no equivalent; name a field")
            name, *fields = token.text[1:].split(".")
            return self._data(name, fields, token.text)
        raise self._fail(f"unexpected `{token.text}`")

    def _data(self, name: str, fields: list[str], written: str) -> str:
        if name == "":
            raise self._fail("`$` (the whole template data) has no equivalent; name a field")
        if name not in _DATA:
            raise self._fail(f"undefined variable or field `{written}`")
        target = _DATA[name]
        if not fields:
            return target
        if target not in _MAPS or len(fields) > 1:
            raise self._fail(f"can't evaluate field `{'.'.join(fields)}` of `{name}`")
        key = fields[0]
        return f"{target}[{_jinja_string(key)}]" if key in _JINJA_RESERVED else f"{target}.{key}"

    def _call(self, name: str, args: list[str]) -> str:
        if name in _NO_TRANSLATION:
            raise self._fail(f"`{name}` is not supported: {_NO_TRANSLATION[name]}")
        if name == "index":
            if len(args) < 2:
                raise self._fail("`index` needs a map and at least one key")
            expression = args[0]
            for key in args[1:]:
                expression = f"{expression}[{key}]"
            return expression
        if name not in FUNCTIONS:
            raise self._fail(f"unknown function `{name}`")
        target, least, most = FUNCTIONS[name]
        if len(args) < least or (most is not None and len(args) > most):
            wanted = str(least) if least == most else f"at least {least}"
            raise self._fail(f"`{name}` takes {wanted} argument(s), got {len(args)}")
        if name == "printf" and args[0].startswith("'"):
            problem = format_problem(_python_string(args[0]))
            if problem:
                raise self._fail(f"printf: {problem}")
        if most == 0:
            return target
        return f"{target}({', '.join(args)})"


def _go_string(token: str) -> str:
    if token.startswith("`"):
        return token[1:-1]
    return _GO_ESCAPE.sub(_unescape, token[1:-1])


def _unescape(match: re.Match[str]) -> str:
    escape = match.group()[1:]
    if escape[0] in "xuU":
        return chr(int(escape[1:], 16))
    if escape[0].isdigit():
        return chr(int(escape, 8))
    if escape in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[escape]
    raise TranslationError(f"unknown escape sequence \\{escape}")


def _python_string(jinja_literal: str) -> str:
    # Inverse of _jinja_string, to check a printf format that was a literal.
    return jinja_literal[1:-1].replace("\\'", "'").encode("ascii").decode("unicode_escape")


def _number(text: str, action: str) -> str:
    cleaned = text.replace("_", "")
    try:
        if cleaned.lstrip("+-").lower().startswith("0x"):
            return str(int(cleaned, 16))
        if any(c in cleaned for c in ".eE"):
            # Go makes these float64 constants; keep them floats in Jinja too.
            return repr(float(cleaned))
        return str(int(cleaned))
    except ValueError:
        raise TranslationError(f"{action}: bad number {text!r}") from None
