"""`make bench`: runs every benchmark and prints one table of medians."""

from __future__ import annotations

import logging

from bench import (
    bench_cutover,
    bench_ingest_http,
    bench_persist,
    bench_router,
    bench_rule_round,
    bench_sendtier,
    bench_windows,
)
from bench.table import Row, render


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    rows: list[Row] = []
    for name, measure in [
        ("ingest over HTTP", bench_ingest_http.table_rows),
        ("batched persistence", bench_persist.table_rows),
        ("windows and rule evaluation", bench_windows.table_rows),
        ("a whole rule-engine round", bench_rule_round.table_rows),
        ("send tier end to end", bench_sendtier.table_rows),
        ("alert router beside Alertmanager", bench_router.table_rows),
        ("cut-over detection and the usual stack", bench_cutover.table_rows),
    ]:
        print(f"bench: measuring {name} …", flush=True)
        rows.extend(measure())
    print()
    print(render(rows))


if __name__ == "__main__":
    main()
