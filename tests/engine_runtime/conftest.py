"""Lets this folder's tests borrow the harnesses of engine_promql (Prometheus) and core (`smsctl
run` in a subprocess) rather than copy them.

Test folders are not packages: pytest puts each on sys.path only when it collects from it, so a
run of this folder alone would not find them.
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
for borrowed in ("engine_promql", "core"):
    if str(TESTS / borrowed) not in sys.path:
        sys.path.append(str(TESTS / borrowed))
