"""Schemathesis against the app's own OpenAPI document, over a real socket: every public and
operator operation, with data that fits the schema and data that does not.

No response may be a 5xx, every error must be in the contract's shape with its own status, and
every response must match what the document declares (status codes, content types, bodies).
`LISTING_SEARCH_FUZZ_EXAMPLES` sets the examples per operation and mode (CI default below).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from indexer.services import Services
from infra.settings import Settings
from search_api.app import create_app
from tests.support.events import listing_event, new_id
from tests.support.service import OPERATOR_TOKEN, Service, running_service

EXAMPLES = int(os.environ.get("LISTING_SEARCH_FUZZ_EXAMPLES", "40"))


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """Every operation the app documents (read from an app that is never started), in both modes
    where it has something to get wrong (parameters, a body or a credential)."""
    offline = Services.from_settings(Settings(), engine_url="http://127.0.0.1:9")
    spec = create_app(offline, ensure_index_on_start=False).openapi()
    out = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            out.append((method.upper(), path, GenerationMode.POSITIVE))
            if op.get("parameters") or op.get("requestBody") or op.get("security"):
                out.append((method.upper(), path, GenerationMode.NEGATIVE))
    return out


CASES = _cases()
OPERATIONS = {(method, path) for method, path, _ in CASES}


def error_status_matches(ctx: Any, response: Any, case: Any) -> bool | None:
    """The shape itself is checked against the document's `Errors` schema (response_schema_conformance);
    this adds that an error carries the status it was sent with."""
    if response.status_code >= 400:
        body = response.json()
        if case.path == "/v1/auth/token" and response.status_code in (400, 401):
            # OAuth 2.0's error shape (RFC 6749 section 5.2), as Flex's Authentication API answers.
            assert body["error"] and body["error_description"], response.text
            return None
        errors = body["errors"]
        assert [e["status"] for e in errors] == [response.status_code], response.text
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_status_matches,
]


@pytest.fixture(scope="module")
def fuzzed(engine_url: str, redis_url: str) -> Iterator[tuple[Service, Any]]:
    # No job worker: schema changes and reindexes queue jobs that never run, which keeps the
    # fuzzing from starting hundreds of rebuilds.
    with running_service(engine_url, redis_url) as svc:
        svc.send([listing_event(i + 1, new_id(), event_type="listing/created") for i in range(5)])
        svc.wait_searchable()
        yield svc, schemathesis.openapi.from_url(f"{svc.url}/openapi.json")


def test_every_documented_operation_is_fuzzed() -> None:
    assert len(OPERATIONS) >= 16
    assert ("GET", "/v1/api/listings/query") in OPERATIONS and ("POST", "/v1/events") in OPERATIONS


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {g}" for m, p, g in CASES])
def test_operation_never_fails_the_contract(
    fuzzed: tuple[Service, Any], method: str, path: str, mode: GenerationMode
) -> None:
    svc, schema = fuzzed
    statuses: Counter[int] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=schema[path][method].as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        # Operator calls carry the credential unless the case itself sets (or breaks) the header.
        headers = {} if "Authorization" in (case.headers or {}) else {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
        response = case.call(base_url=svc.url, headers=headers)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    run()
    assert sum(statuses.values()) > 0
    assert not any(status >= 500 for status in statuses), statuses
