"""Builders for ingest tests: settings, a running app, and event bodies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi.testclient import TestClient

from controlplane.service import ControlPlane
from controlplane.settings import Settings
from controlplane.web.app import create_app

INGEST_TOKEN = "ingest-token-0123456789"
OPERATOR_TOKEN = "operator-token-0123456789"
ADMIN_TOKEN = "admin-token-0123456789abc"
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def settings_for(database_url: str, **bus: Any) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": database_url},
            "bus": {"backend": "memory", "ack_wait_s": 1.0, **bus},
            "ingest": {"max_body_bytes": 256 * 1024, "bus_chunk_events": 100},
            "auth": {
                "tokens": [
                    {"name": "ingest", "token": INGEST_TOKEN, "scopes": ["ingest"]},
                    {"name": "ops", "token": OPERATOR_TOKEN, "scopes": ["operator"]},
                    {"name": "root", "token": ADMIN_TOKEN, "scopes": ["admin"]},
                ]
            },
        }
    )


@contextmanager
def running(settings: Settings) -> Iterator[tuple[TestClient, ControlPlane]]:
    """The app with its lifespan: leaving the block drains the bus to storage."""
    service = ControlPlane(settings, environ={})
    with TestClient(create_app(service)) as client:
        yield client, service


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def receipt(n: int, status: str = "DELIVERED", **overrides: Any) -> dict[str, Any]:
    event = {
        "message_id": f"msg-{n:06d}",
        "supplier": ["aliyun", "tencent", "twilio"][n % 3],
        "carrier": ["cmcc", "cucc", "ctcc"][n % 3],
        "message_class": "otp",
        "status": status,
        "raw_status": "DELIVRD",
        "error_code": None,
        "submitted_at": (T0 + timedelta(milliseconds=n)).isoformat(),
        "reported_at": (T0 + timedelta(seconds=3, milliseconds=n)).isoformat(),
    }
    event.update(overrides)
    return event


def ndjson(events: list[dict[str, Any]]) -> bytes:
    return b"\n".join(orjson.dumps(e) for e in events) + b"\n"


NDJSON = {"Content-Type": "application/x-ndjson"}
