"""URLs as a log line may show them: where a request went, never the secret in its path or query.

Webhook URLs carry their credential in the path or the query (`/hooks/T0/B0/xyz`,
`?access_token=…`, `?key=…`), and user:password may sit before the host: a log keeps the scheme,
host and port only.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_url(url: str) -> str:
    """`scheme://host:port/…`: enough to tell endpoints apart, nothing that grants access."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "<unreadable url>"
    hidden = "/…" if parts.path.strip("/") or parts.query or parts.fragment else ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}{hidden}"
