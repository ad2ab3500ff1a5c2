"""Message templates: {name} placeholders compiled once, rendered strictly from client params."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from smsplatform.contracts import MessageClass
from suppliers.settings import TemplateSettings

_PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TemplateParamError(ValueError):
    """Parameters that do not fit the template; `param` names the first offending one."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


@dataclass(frozen=True, slots=True)
class Template:
    """An approved template. `parts` alternates literal text (even) and parameter names (odd)."""

    id: str
    message_class: MessageClass
    text: str
    tenants: frozenset[str]  # empty: every tenant may use it
    params: tuple[str, ...]  # names in order of first use
    parts: tuple[str, ...]

    @classmethod
    def compile(cls, settings: TemplateSettings) -> Template:
        parts = tuple(_PLACEHOLDER.split(settings.text))
        params = tuple(dict.fromkeys(parts[1::2]))
        return cls(
            settings.id,
            settings.message_class,
            settings.text,
            frozenset(settings.tenants),
            params,
            parts,
        )

    def usable_by(self, tenant: str) -> bool:
        return not self.tenants or tenant in self.tenants

    def render(self, params: Mapping[str, str]) -> str:
        """The text with every placeholder filled; TemplateParamError on a missing or extra one.

        Values are inserted as they are: braces inside a value are never read as placeholders.
        """
        if len(params) != len(self.params) or any(name not in params for name in self.params):
            self._raise_mismatch(params)
        parts = list(self.parts)
        for position in range(1, len(parts), 2):
            parts[position] = params[parts[position]]
        return "".join(parts)

    def _raise_mismatch(self, params: Mapping[str, str]) -> None:
        for name in self.params:
            if name not in params:
                raise TemplateParamError(name, f"template {self.id!r} needs parameter {name!r}")
        for name in params:
            if name not in self.params:
                raise TemplateParamError(name, f"template {self.id!r} has no parameter {name!r}")


class TemplateCatalog:
    """The configured templates by id."""

    def __init__(self, templates: Iterable[TemplateSettings]) -> None:
        self._by_id: dict[str, Template] = {}
        for settings in templates:
            if settings.id in self._by_id:
                raise ValueError(f"template id {settings.id!r} is configured twice")
            self._by_id[settings.id] = Template.compile(settings)

    def get(self, template_id: str, tenant: str) -> Template | None:
        """The template, if it exists and the tenant may use it."""
        template = self._by_id.get(template_id)
        return template if template is not None and template.usable_by(tenant) else None

    def for_tenant(self, tenant: str) -> list[Template]:
        return [t for t in self._by_id.values() if t.usable_by(tenant)]
