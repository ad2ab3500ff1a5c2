"""Schemathesis over every service's OpenAPI: no 5xx, and answers that match what is documented.

Each operation of each service gets generated requests, valid ones (positive) and invalid ones
(negative), sent over HTTP to the served stack with the token that lets them in (admin for the
control plane, a tenant's for the send API). Checks: never a server error; the body matches the
documented schema and content type wherever the status is documented. Requests time out after
10 s, so a hang fails too. Examples are few and derandomized: the run stays within budget and
the same inputs are tried on every run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from security_world import ADMIN_TOKEN, TENANT_TOKEN, Stack

MAX_EXAMPLES = 25
TIMEOUT_S = 10.0
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
TOKENS = {"controlplane": ADMIN_TOKEN, "api": TENANT_TOKEN}
SERVICES = ["controlplane", "api", "receipts", "dispatch", "persist"]


def _fuzzer(
    operation: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    base_url: str,
    headers: dict[str, str],
) -> Callable[[], None]:
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=TIMEOUT_S)
        case.validate_response(response, checks=CHECKS, headers=headers)

    return fuzz


@pytest.mark.parametrize("service", SERVICES)
def test_no_operation_fails_or_strays_from_its_schema(stack: Stack, service: str) -> None:
    document: dict[str, Any] = stack.apps[service].openapi()
    schema = schemathesis.openapi.from_dict(document)
    headers = {"Authorization": f"Bearer {TOKENS[service]}"} if service in TOKENS else {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, f"{service} documents no operation"
    failures = []
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            try:
                _fuzzer(operation, mode, stack.urls[service], headers)()
            except Unsatisfiable:
                continue  # nothing to make invalid: an operation without parameters or body
            except Exception as failure:
                failures.append(f"{operation.label} ({mode.value}): {failure}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_body_a_handler_reads_is_documented(stack: Stack, service: str) -> None:
    """Bodies read by hand (msgspec on hot paths) are described with openapi_extra."""
    document: dict[str, Any] = stack.apps[service].openapi()
    undocumented = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in ("post", "put", "patch") and "requestBody" not in operation
    ]
    # Posting with no body at all is the whole request for these.
    assert set(undocumented) <= {"POST /v1/rules/reload"}, undocumented
