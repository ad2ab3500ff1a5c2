"""The result table `make bench` prints: one row per measurement, medians over repetitions."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    benchmark: str
    setup: str
    median: float
    unit: str
    runs: list[float]
    target: str = ""

    @property
    def spread(self) -> str:
        return f"{min(self.runs):,.0f}–{max(self.runs):,.0f}" if len(self.runs) > 1 else ""


def median_row(benchmark: str, setup: str, runs: list[float], unit: str, target: str = "") -> Row:
    return Row(benchmark, setup, statistics.median(runs), unit, runs, target)


def render(rows: list[Row]) -> str:
    header = ("benchmark", "setup", "median", "unit", "range", "runs", "target")
    cells = [
        (r.benchmark, r.setup, f"{r.median:,.0f}", r.unit, r.spread, str(len(r.runs)), r.target)
        for r in rows
    ]
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]
    lines = [
        " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
        for row in [header, *cells]
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
