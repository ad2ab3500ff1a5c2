"""The console is tested in the alerting end-to-end world: its module joins the import path."""

from __future__ import annotations

import sys
from pathlib import Path

# tests/alerting_e2e has no package: pytest puts it on sys.path only for its own tests.
sys.path.insert(0, str(Path(__file__).parent.parent / "alerting_e2e"))
