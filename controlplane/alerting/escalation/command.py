"""`smsctl ack FINGERPRINT`: acknowledge an alert through the API."""

from __future__ import annotations

import sys
from urllib.parse import quote

import httpx

ACK_TIMEOUT_S = 10.0


def ack_command(api_url: str, token: str, fingerprint: str) -> int:
    """POSTs the ack; prints what it stopped. 0 done, 1 refused by the API, 2 API unreachable."""
    url = f"{api_url.rstrip('/')}/v1/alerts/{quote(fingerprint, safe='')}/ack"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        response = httpx.post(url, json={"via": "cli"}, headers=headers, timeout=ACK_TIMEOUT_S)
    except httpx.HTTPError as exc:
        print(f"smsctl ack: cannot reach {api_url}: {exc}", file=sys.stderr)
        return 2
    try:
        body = response.json()
    except ValueError:
        body = {"error": response.text}
    if response.status_code != 200:
        print(f"smsctl ack: {response.status_code}: {body.get('error', body)}", file=sys.stderr)
        return 1
    groups = body.get("groups", [])
    if groups:
        print(f"acknowledged {fingerprint}; escalation stopped for: {', '.join(groups)}")
    else:
        print(f"acknowledged {fingerprint}; no escalation was running for it")
    return 0
