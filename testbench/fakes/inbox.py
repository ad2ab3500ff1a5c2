"""What a fake received, kept in order and served at GET /_fake/inbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from smsplatform.http.responses import JsonResponse


@dataclass(frozen=True)
class Received:
    """One request a fake accepted (or, for WeCom app drops, swallowed)."""

    endpoint: str  # the robot token, robot key, app id, callee, or URL path
    at: datetime
    body: Any  # the decoded JSON (or form parameters)
    note: str = ""  # e.g. "dropped" for WeCom's silent per-member drops

    def as_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "at": self.at.isoformat(),
            "body": self.body,
            "note": self.note,
        }


@dataclass
class Inbox:
    received: list[Received] = field(default_factory=list)

    def add(self, item: Received) -> None:
        self.received.append(item)

    def bodies(self, endpoint: str | None = None) -> list[Any]:
        return [r.body for r in self.received if endpoint is None or r.endpoint == endpoint]

    def install(self, app: FastAPI) -> None:
        """Add GET /_fake/inbox, which lists everything received, oldest first."""

        @app.get("/_fake/inbox")
        async def inbox() -> JsonResponse:
            return JsonResponse({"received": [r.as_json() for r in self.received]})
