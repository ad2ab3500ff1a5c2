"""The `templates:` key: message templates per channel format, checked and compiled at load."""

from __future__ import annotations

from typing import Any

from controlplane.alerting.config.reader import ConfigReader
from notifiers.templates import DEFAULT_TEMPLATES, Templates, default_templates, template_problem


def read_templates(reader: ConfigReader, raw: Any) -> Templates:
    """Our overrides (a map template name → Jinja2 source), or the defaults.

    Alertmanager's `templates:` is a list of Go template files: that loads, with a warning, as
    Go templates cannot drive our channels.
    """
    if raw is None or raw == []:
        return default_templates
    if isinstance(raw, list):
        reader.warn(("templates",), "Alertmanager templates are ignored; channels use their own")
        return default_templates
    node = reader.mapping(raw, ("templates",), DEFAULT_TEMPLATES, "templates")
    if node is None:
        return default_templates
    overrides: dict[str, str] = {}
    for name, source in node.items():
        where = ("templates", name)
        if name not in DEFAULT_TEMPLATES:
            continue  # reported by `mapping` with the known names
        if not isinstance(source, str):
            reader.fail(where, "expected the template's Jinja2 source as a string")
            continue
        problem = template_problem(name, source)
        if problem is not None:
            reader.fail(where, problem)
            continue
        overrides[name] = source
    return Templates(overrides) if overrides else default_templates
