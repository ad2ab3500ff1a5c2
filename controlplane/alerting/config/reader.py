"""The field reader of alerting.yaml: collects problems (errors) and notes (warnings) by line."""

from __future__ import annotations

from controlplane.engine.rules.fields import FieldReader, Path
from smsplatform.config.yamlsource import ConfigProblem, YamlDocument


class ConfigReader(FieldReader):
    """A FieldReader that also keeps warnings: things accepted but not acted on."""

    def __init__(self, document: YamlDocument) -> None:
        super().__init__(document)
        self.warnings: list[ConfigProblem] = []

    def warn(self, path: Path, message: str) -> None:
        self.warnings.append(self.document.problem(path, message))
