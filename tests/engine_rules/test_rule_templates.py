"""Annotation and label templates: Jinja as written, Prometheus' Go forms rendered as Prometheus
renders them, and a sandbox that keeps templates away from Python internals."""

from __future__ import annotations

import math

import pytest

from controlplane.engine.rules import TemplateContext, TemplateError, compile_template

LABELS = {"instance": "node-1:9100", "job": "node", "supplier": "aliyun", "carrier": "cmcc"}


def render(source: str, value: float | None = 0.5, **context: object) -> str:
    template = compile_template(source)
    return template.render(TemplateContext(labels=LABELS, value=value, **context))  # type: ignore[arg-type]


# Expected outputs are what Prometheus 2.x/3.x prints for the same template and data (its
# template_test.go cases for the humanize family, and Go's fmt for $value and printf).
PROMETHEUS_CASES = [
    ("{{ $labels.instance }} of job {{ $labels.job }}", 0.5, "node-1:9100 of job node"),
    ("{{ .Labels.instance }}", 0.5, "node-1:9100"),
    ("{{ $labels.missing }}", 0.5, ""),
    ('{{ index $labels "job" }}', 0.5, "node"),
    ("{{ $externalLabels.cluster }}", 0.5, "prod"),
    ("{{ $value }}", 0.5, "0.5"),
    ("{{ $value }}", 100.0, "100"),
    ("{{ $value }}", 123456.0, "123456"),
    ("{{ $value }}", 1234567.0, "1.234567e+06"),
    ("{{ $value }}", 0.00001, "1e-05"),
    ("{{ $value }}", math.inf, "+Inf"),
    ("{{ $value }}", math.nan, "NaN"),
    ("{{ .Value }}", 2.5, "2.5"),
    ("{{ $value | humanize }}", 1234567.0, "1.235M"),
    ("{{ humanize $value }}", 0.12, "120m"),
    ("{{ humanize $value }}", 0.0, "0"),
    ("{{ humanize $value }}", 1.0, "1"),
    ("{{ humanize $value }}", -math.inf, "-Inf"),
    ("{{ humanize1024 $value }}", 1048576.0, "1Mi"),
    ("{{ humanize1024 $value }}", 0.12, "0.12"),
    ("{{ $value | humanizePercentage }}", 0.1234, "12.34%"),
    ("{{ humanizePercentage $value }}", 0.1234567, "12.35%"),
    ("{{ $value | humanizePercentage }}", -0.22222, "-22.22%"),
    ("{{ $value | humanizePercentage }}", 1.23456, "123.5%"),
    ("{{ $value | humanizePercentage }}", 0.0, "0%"),
    ("{{ humanizeDuration $value }}", 90.0, "1m 30s"),
    ("{{ humanizeDuration $value }}", 0.0, "0s"),
    ("{{ humanizeDuration $value }}", 3600.0, "1h 0m 0s"),
    ("{{ humanizeDuration $value }}", 86400 + 3600.0, "1d 1h 0m 0s"),
    ("{{ humanizeDuration $value }}", -(86400 * 2 + 3600 * 3 + 60 * 4 + 5.0), "-2d 3h 4m 5s"),
    ("{{ humanizeDuration $value }}", 899.99, "14m 59s"),
    ("{{ humanizeDuration $value }}", 0.12345, "123.5ms"),
    ("{{ humanizeDuration $value }}", 0.0001, "100us"),
    ("{{ humanizeDuration $value }}", 12.345, "12.35s"),
    ("{{ humanizeDuration $value }}", math.inf, "+Inf"),
    ("{{ humanizeTimestamp $value }}", 1435065584.128, "2015-06-23 13:19:44.128 +0000 UTC"),
    ('{{ printf "%.2f" $value }}', 0.125, "0.12"),
    ('{{ $value | printf "%.1f%%" }}', 99.95, "100.0%"),
    ('{{ printf "%s is %v" $labels.job $value }}', 3.0, "node is 3"),
    ('{{ printf "%d" $value }}', 2.0, "%!d(float64=2)"),
    ('{{ printf "%s %s" $labels.job }}', 1.0, "node %!s(MISSING)"),
    ('{{ printf "%5.1f|" $value }}', 3.14159, "  3.1|"),
    ("{{ $labels.job | toUpper }}", 0.5, "NODE"),
    ('{{ title "aa bb CC" }}', 0.5, "Aa Bb CC"),
    (
        "{{ humanize $labels.job }}",
        0.5,
        '<error expanding template: strconv.ParseFloat: parsing "node"',
    ),
    ("{{- $labels.job -}}  \n  done", 0.5, "nodedone"),
    ("{{/* a comment */}}kept", 0.5, "kept"),
    ('{{ "}}" }}{{ $value }}', 0.5, "}}0.5"),
    ("100% {% raw %} {{ $value }}", 7.0, "100% {% raw %} 7"),
]


@pytest.mark.parametrize(("source", "value", "expected"), PROMETHEUS_CASES)
def test_prometheus_template_forms_render_as_prometheus_renders_them(
    source: str, value: float, expected: str
) -> None:
    template = compile_template(source)
    assert template.dialect == "prometheus"
    rendered = template.render(
        TemplateContext(labels=LABELS, value=value, external_labels={"cluster": "prod"})
    )
    if expected.startswith("<error"):
        assert rendered.startswith(expected)
    else:
        assert rendered == expected


def test_prometheus_forms_translate_to_the_sandbox_names() -> None:
    assert compile_template("{{ $labels.x }}").jinja_source == "{{ labels.x }}"
    assert compile_template("{{ $value }}").jinja_source == "{{ value }}"
    assert compile_template("{{ $value | humanize }}").jinja_source == "{{ humanize(value) }}"
    assert compile_template("{{ humanize $value }}").jinja_source == "{{ humanize(value) }}"
    assert compile_template('{{ printf "%.2f" $value }}').jinja_source == (
        "{{ printf('%.2f', value) }}"
    )
    assert compile_template("{{ $externalLabels.x }}").jinja_source == "{{ external_labels.x }}"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ range $labels }}{{ . }}{{ end }}", "`range` has no sandbox equivalent"),
        ("{{ if gt $value 1.0 }}big{{ end }}", "`if` has no sandbox equivalent"),
        ('{{ with query "up" }}{{ . }}{{ end }}', "`with` has no sandbox equivalent"),
        ('{{ define "x" }}y{{ end }}', "`define` has no sandbox equivalent"),
        ("{{ $x := $value }}{{ $x }}", "template variables cannot be declared"),
        ('{{ query "up" | first | value }}', "`query` is not supported"),
        ('{{ reReplaceAll "a" "b" $labels.job }}', "`reReplaceAll` is not supported"),
        ("{{ $labels.a.b }}", "can't evaluate field `a.b`"),
        ("{{ $value.x }}", "can't evaluate field `x` of `value`"),
        ("{{ $nope }}", "undefined variable or field `$nope`"),
        ("{{ . }}", "the whole template data"),
        ('{{ printf "%y" $value }}', "verb %y is not supported"),
        ("{{ humanize }}", "`humanize` takes 1 argument(s), got 0"),
        ("{{ humanize $value $value }}", "`humanize` takes 1 argument(s), got 2"),
        ("{{ $value | $labels }}", "not a function"),
        ("{{ frobnicate $value }}", "unknown function `frobnicate`"),
    ],
)
def test_go_template_forms_without_a_faithful_translation_fail_to_compile(
    source: str, message: str
) -> None:
    with pytest.raises(TemplateError, match="cannot translate Prometheus template") as failure:
        compile_template(source)
    assert message in str(failure.value)


def test_jinja_templates_render_with_labels_value_and_aggregates() -> None:
    source = (
        "{{ labels.supplier }} to {{ labels.carrier }}: delivery {{ value | percent }}"
        " of {{ aggregates.total }} ({{ value | humanizePercentage }}, {{ printf('%.3f', value) }})"
    )
    template = compile_template(source)
    assert template.dialect == "jinja"
    assert template.aggregate_names == {"total"}
    context = TemplateContext(labels=LABELS, value=0.875, aggregates={"total": 1200})
    assert template.render(context) == "aliyun to cmcc: delivery 87.50% of 1200 (87.5%, 0.875)"


def test_jinja_statements_and_filters_work_in_the_sandbox() -> None:
    source = "{% if value < 0.9 %}low{% else %}ok{% endif %} {{ labels.job | upper }}"
    assert render(source, value=0.5) == "low NODE"
    assert render(source, value=0.95) == "ok NODE"


def test_value_prints_the_same_in_both_dialects() -> None:
    assert render("{{ value }}", value=1234567.0) == render("{{ $value }}", value=1234567.0)
    assert render("{{ value }}", value=200) == "200"
    assert render("{{ value }}", value=None) == "NaN"  # no data


def test_text_without_template_syntax_is_kept_verbatim() -> None:
    template = compile_template("Disk 100% full, see runbook {x}")
    assert template.is_static
    assert render("Disk 100% full, see runbook {x}") == "Disk 100% full, see runbook {x}"


def test_a_label_named_like_a_dict_method_reads_the_label() -> None:
    context = TemplateContext(labels={"items": "3", "keys": "k"}, value=1.0)
    assert compile_template("{{ labels.items }}/{{ labels.keys }}").render(context) == "3/k"
    assert compile_template("{{ $labels.items }}/{{ $labels.keys }}").render(context) == "3/k"


@pytest.mark.parametrize(
    "source",
    [
        "{{ labels.__class__ }}",
        "{{ labels.__class__.__mro__ }}",
        "{{ value.__class__.__subclasses__() }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ humanize.__globals__ }}",
        "{{ range.__self__ }}",
    ],
)
def test_sandbox_blocks_python_internals(source: str) -> None:
    rendered = render(source)
    assert rendered == "" or rendered.startswith("<error expanding template:")
    assert "class" not in rendered.replace("__class__", "")
    assert "function" not in rendered


def test_sandbox_bounds_memory_and_cpu_hungry_operators() -> None:
    assert render("{{ 'a' * 10000000 }}").startswith("<error expanding template:")
    assert render("{{ 2 ** 100000 }}").startswith("<error expanding template:")
    assert render("{{ 'ab' * 3 }} {{ 2 ** 10 }}") == "ababab 1024"


def test_a_template_that_fails_while_rendering_says_so_instead_of_raising() -> None:
    assert render("{{ humanize(labels.job) }}").startswith(
        '<error expanding template: strconv.ParseFloat: parsing "node"'
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ labls.supplier }}", "unknown name `labls`"),
        ("{{ value | percnt }}", "unknown filter `percnt`"),
        ("{% if value %}{{ value | nope }}{% endif %}", "unknown filter `nope`"),
        ("{{ value is frobbed }}", "unknown test `frobbed`"),
        ("{{ value ", "invalid template"),
        ("{% if value %}never closed", "invalid template"),
    ],
)
def test_jinja_mistakes_fail_to_compile(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        compile_template(source)
