"""Rule labels and annotations as Jinja2 templates, compiled once and rendered in a sandbox.

Both dialects end up here: Jinja as written (`{{ labels.supplier }}`, `{{ value | percent }}`) and
Prometheus' Go forms translated by `gotemplate`. Values print as Go prints them (`%v`), so
`{{ value }}` reads the same in either dialect and in Prometheus. A template that fails while
rendering yields `<error expanding template: …>`, as Prometheus does, instead of raising.
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import jinja2
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from controlplane.engine.rules.gofmt import go_sprint, go_sprintf
from controlplane.engine.rules.gotemplate import TranslationError, looks_like_go_template, translate
from controlplane.engine.rules.humanize import (
    go_lower,
    go_title,
    go_upper,
    humanize,
    humanize1024,
    humanize_duration,
    humanize_percentage,
    humanize_timestamp,
    to_float,
)

log = logging.getLogger("smsctl.rules")

Dialect = Literal["jinja", "prometheus"]
# The names a template may read; anything else is a load error (a typo would render empty).
CONTEXT_NAMES: Final = frozenset(
    {"labels", "value", "external_labels", "external_url", "aggregates"}
)
# Bounds on what `*` and `**` may build, so a template cannot exhaust memory or CPU.
_MAX_REPEAT_LENGTH: Final = 100_000
_MAX_EXPONENT: Final = 1_000


class TemplateError(ValueError):
    """A label or annotation template that cannot be compiled."""


@dataclass(frozen=True)
class TemplateContext:
    """What one alert's templates see."""

    labels: Mapping[str, str]
    value: float | None = None  # None (no data) renders as NaN, as Prometheus shows a NaN sample
    external_labels: Mapping[str, str] = field(default_factory=dict)
    external_url: str = ""
    aggregates: Mapping[str, Any] = field(default_factory=dict)  # numbers, or maps (error_share)


def percent(value: object, decimals: int = 2) -> str:
    """A ratio as a percentage with fixed decimals: 0.87345 → `87.35%`."""
    return f"{to_float(value) * 100:.{decimals}f}%"


def _printf(format_text: object, *args: object) -> str:
    return go_sprintf(str(format_text), *args)


_FUNCTIONS: Final[dict[str, Callable[..., str]]] = {
    "humanize": humanize,
    "humanize1024": humanize1024,
    "humanizeDuration": humanize_duration,
    "humanizePercentage": humanize_percentage,
    "humanizeTimestamp": humanize_timestamp,
    "percent": percent,
    "printf": _printf,
    "toUpper": go_upper,
    "toLower": go_lower,
    "title": go_title,
}
_FILTERS: Final = {name: fn for name, fn in _FUNCTIONS.items() if name not in ("printf", "title")}


class _RuleSandbox(ImmutableSandboxedEnvironment):
    """The sandbox: label maps expose their keys only, and repetition and powers are bounded."""

    intercepted_binops = frozenset({"*", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            # `labels.items` is the label named "items", never dict.items; no attribute leaks.
            return obj[attribute] if attribute in obj else self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Mapping):
            return obj[argument] if argument in obj else self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > _MAX_EXPONENT:
                raise SecurityError("exponent too large")
            return operator.pow(left, right)
        for sequence, count in ((left, right), (right, left)):
            if (
                isinstance(sequence, str | list | tuple)
                and isinstance(count, int)
                and len(sequence) * count > _MAX_REPEAT_LENGTH
            ):
                raise SecurityError("repetition result too long")
        return operator.mul(left, right)


def _finalize(value: Any) -> str:
    return "" if isinstance(value, jinja2.Undefined) else go_sprint(value)


def _environment() -> _RuleSandbox:
    env = _RuleSandbox(
        autoescape=False,  # annotations are plain text, as with Go's text/template
        keep_trailing_newline=True,
        finalize=_finalize,
        undefined=jinja2.Undefined,
    )
    # Only side-effect-free helpers stay; the rest of Jinja's defaults are not needed here.
    env.globals = {"range": env.globals["range"], **_FUNCTIONS}
    env.filters.update(_FILTERS)
    return env


_ENV: Final = _environment()
_KNOWN_NAMES: Final = CONTEXT_NAMES | frozenset(_ENV.globals)


@dataclass(frozen=True)
class RuleTemplate:
    """One compiled label or annotation template."""

    source: str  # as written in the rule file
    dialect: Dialect
    jinja_source: str  # what the sandbox runs (the translation, for Prometheus' forms)
    # Aggregates the template reads (`aggregates.total`), which the window must compute for it.
    aggregate_names: frozenset[str] = frozenset()
    _compiled: jinja2.Template | None = field(default=None, repr=False, compare=False)

    @property
    def is_static(self) -> bool:
        return self._compiled is None

    def render(self, context: TemplateContext) -> str:
        if self._compiled is None:
            return self.source
        value = math.nan if context.value is None else float(context.value)
        try:
            return self._compiled.render(
                labels=context.labels,
                value=value,
                external_labels=context.external_labels,
                external_url=context.external_url,
                aggregates=context.aggregates,
            )
        except Exception as exc:  # a template bug must never stop the alert going out
            log.warning(
                "event=template_render_failed template=%r error=%r", self.source[:200], str(exc)
            )
            return f"<error expanding template: {exc}>"


def compile_template(source: str) -> RuleTemplate:
    """Compile `source` once (either dialect); TemplateError says what is wrong and where."""
    if "{{" not in source and "{%" not in source and "{#" not in source:
        return RuleTemplate(source=source, dialect="jinja", jinja_source=source)
    dialect: Dialect = "jinja"
    jinja_source = source
    try:
        if looks_like_go_template(source):
            dialect = "prometheus"
            jinja_source = translate(source)
    except TranslationError as exc:
        raise TemplateError(f"cannot translate Prometheus template: {exc}") from None
    try:
        tree = _ENV.parse(jinja_source)
        _check_filters(tree)
        unknown = sorted(meta.find_undeclared_variables(tree) - _KNOWN_NAMES)
        compiled = _ENV.from_string(tree)
    except jinja2.TemplateSyntaxError as exc:
        where = f" (template line {exc.lineno})" if "\n" in source.strip() else ""
        raise TemplateError(f"invalid template{where}: {exc.message}") from None
    if unknown:
        raise TemplateError(
            f"unknown name {', '.join(f'`{n}`' for n in unknown)}; templates see "
            "labels, value, aggregates, external_labels, external_url"
        )
    return RuleTemplate(source, dialect, jinja_source, _aggregate_names(tree), compiled)


def _aggregate_names(tree: nodes.Template) -> frozenset[str]:
    names: set[str] = set()
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == "aggregates":
            names.add(node.attr)
    for item in tree.find_all(nodes.Getitem):
        if (
            isinstance(item.node, nodes.Name)
            and item.node.name == "aggregates"
            and isinstance(item.arg, nodes.Const)
            and isinstance(item.arg.value, str)
        ):
            names.add(item.arg.value)
    return frozenset(names)


def _check_filters(tree: nodes.Template) -> None:
    # Jinja only notices an unknown filter inside an `{% if %}` when rendering; fail at load.
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        table = _ENV.filters if isinstance(node, nodes.Filter) else _ENV.tests
        if node.name not in table:
            kind = "filter" if isinstance(node, nodes.Filter) else "test"
            raise TemplateError(f"unknown {kind} `{node.name}`")
