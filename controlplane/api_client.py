"""The `smsctl` commands' side of the control plane's API: options, one request, its refusal."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

import httpx

DEFAULT_API_URL = "http://127.0.0.1:8080"
TIMEOUT_S = 10.0


class ApiRefused(Exception):
    """The API refused the request: its status, error and field, in its own words."""


def add_api_options(parser: argparse.ArgumentParser) -> None:
    """--url and --token, as every command that talks to a running control plane takes them."""
    parser.add_argument("--url", default=DEFAULT_API_URL, help="the control plane's API")
    parser.add_argument(
        "--token", required=True, help="a bearer token with the operator scope (or admin)"
    )


def call_api(
    url: str, token: str, method: str, path: str, body: Mapping[str, Any] | None = None
) -> Any:
    """One request, its JSON answer; ApiRefused with the API's error and field on a 4xx/5xx."""
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=TIMEOUT_S) as client:
        response = client.request(method, path, json=body)
    if response.status_code >= 400:
        try:
            detail = response.json()
        except ValueError:
            raise ApiRefused(f"HTTP {response.status_code}: {response.text}") from None
        field = f" (field {detail['field']})" if detail.get("field") else ""
        raise ApiRefused(f"HTTP {response.status_code}: {detail.get('error')}{field}")
    return response.json()
