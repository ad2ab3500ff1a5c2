"""Benchmark of batched receipt persistence: rows/s through ReceiptRepository.add_batch.

Run from the repository root: `.venv/bin/python -m bench.bench_persist [rows]`. It measures a
temporary SQLite file and a fresh MariaDB database on 127.0.0.1:3306 (created and dropped here).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pymysql

from bench.table import Row, median_row
from sendtier.storage import SENDTIER_HISTORY, Database, ReceiptRepository
from smsplatform.contracts import Receipt

BATCH_ROWS = 1_000
REPETITIONS = 5
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
STATUSES = ("DELIVERED", "DELIVERED", "DELIVERED", "FAILED", "EXPIRED")


def make_receipts(rows: int, run: str) -> list[Receipt]:
    """Receipts shaped like production: few suppliers and carriers, a unique id per message."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    receipts = []
    for index in range(rows):
        submitted = start + timedelta(microseconds=index * 137)
        status = STATUSES[index % len(STATUSES)]
        receipts.append(
            Receipt(
                message_id=f"{run}-{index:09d}",
                supplier=f"supplier-{index % 4}",
                carrier=("cmcc", "cucc", "ctcc")[index % 3],
                message_class="otp" if index % 2 else "notification",
                status=status,  # type: ignore[arg-type]
                submitted_at=submitted,
                reported_at=submitted + timedelta(seconds=3, microseconds=index % 997),
                raw_status="DELIVRD" if status == "DELIVERED" else "UNDELIV",
                error_code=None if status == "DELIVERED" else f"E{index % 50:03d}",
                received_at=submitted + timedelta(seconds=4),
            )
        )
    return receipts


def run(url: str, rows: int) -> dict[str, Any]:
    """Persist `rows` receipts in batches of 1,000, REPETITIONS times; rows/s per repetition.

    Every repetition writes new message ids, so each one inserts (no duplicate is skipped).
    """
    database = Database(url)
    try:
        database.upgrade(SENDTIER_HISTORY)
        repository = ReceiptRepository(database)
        repository.add_batch(make_receipts(BATCH_ROWS, "warmup"))  # Pool, caches, first pages.
        rates: list[float] = []
        for repetition in range(REPETITIONS):
            receipts = make_receipts(rows, f"r{repetition}")
            batches = [receipts[first : first + BATCH_ROWS] for first in range(0, rows, BATCH_ROWS)]
            started = time.perf_counter()
            for batch in batches:
                repository.add_batch(batch)
            rates.append(rows / (time.perf_counter() - started))
        stored = repository.count()
    finally:
        database.dispose()
    return {
        "dialect": database.dialect_name,
        "rows": rows,
        "batch_rows": BATCH_ROWS,
        "repetitions": REPETITIONS,
        "median_rows_per_s": round(statistics.median(rates)),
        "min_rows_per_s": round(min(rates)),
        "max_rows_per_s": round(max(rates)),
        "stored_rows": stored,
        "runs_rows_per_s": [round(rate) for rate in rates],
    }


def table_rows(rows: int = 20_000) -> list[Row]:
    """This benchmark as rows of the `make bench` table: a SQLite file, then a fresh MariaDB."""
    table = []
    for setup, database_url in (("SQLite file", sqlite_database), ("MariaDB", mariadb_database)):
        with database_url() as url:
            result = run(url, rows)
        runs = [float(rate) for rate in result["runs_rows_per_s"]]
        target = "≥ 20,000" if setup == "MariaDB" else ""
        table.append(
            median_row("persist receipts, batches of 1,000", setup, runs, "rows/s", target)
        )
    return table


@contextmanager
def sqlite_database() -> Iterator[str]:
    """The URL of a SQLite file in a temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench_persist_") as directory:
        yield f"sqlite:///{Path(directory) / 'bench.db'}"


@contextmanager
def mariadb_database() -> Iterator[str]:
    """The URL of a new database on the local MariaDB, dropped afterwards."""
    name = f"smsctl_bench_{uuid.uuid4().hex[:12]}"
    admin = pymysql.connect(**MARIADB)
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        host, port = MARIADB["host"], MARIADB["port"]
        yield f"mysql+pymysql://root@{host}:{port}/{name}?charset=utf8mb4"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def main(rows: int) -> None:
    for backend, database_url in (("sqlite", sqlite_database), ("mariadb", mariadb_database)):
        with database_url() as url:
            result = run(url, rows)
        fields = " ".join(
            f"{key}={value}" for key, value in result.items() if key != "runs_rows_per_s"
        )
        runs = ",".join(str(rate) for rate in result["runs_rows_per_s"])
        print(f"bench.persist backend={backend} {fields} runs={runs}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
