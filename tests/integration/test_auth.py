"""Operator endpoints need the operator credential; public search does not."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support import Service, listing_event, new_id, running_service

OPERATOR_CALLS = [("POST", "/v1/events"), ("GET", "/v1/status"), ("GET", "/v1/dead-letters")]


@pytest.mark.parametrize(("method", "path"), OPERATOR_CALLS)
def test_operator_endpoints_refuse_without_credential(service: Service, method: str, path: str) -> None:
    body = {"data": [listing_event(1, new_id(), event_type="listing/created")]}
    kwargs = {"json": body} if method == "POST" else {}
    missing = service.public.request(method, path, **kwargs)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["errors"][0]["code"] == "unauthorized"
    wrong = service.public.request(method, path, headers={"Authorization": "Bearer wrong"}, **kwargs)
    assert wrong.status_code == 403
    not_bearer = service.public.request(method, path, headers={"Authorization": "Basic dXNlcjpwYXNz"}, **kwargs)
    assert not_bearer.status_code == 401
    assert service.operator.get("/v1/status").json()["events"]["accepted"] == 0


def test_public_search_needs_no_credential(service: Service) -> None:
    assert service.public.get("/v1/api/listings/query").status_code == 200
    assert service.public.get("/healthz").json() == {"status": "ok"}


@pytest.fixture
def tokenless(engine_url: str, redis_url: str) -> Iterator[Service]:
    with running_service(engine_url, redis_url, operator_token=None) as svc:
        yield svc


def test_operator_endpoints_disabled_when_no_token_is_configured(tokenless: Service) -> None:
    assert httpx.get(f"{tokenless.url}/v1/status").status_code == 401
    resp = httpx.get(f"{tokenless.url}/v1/status", headers={"Authorization": "Bearer anything"})
    assert resp.status_code == 403
    assert "LISTING_SEARCH_OPERATOR_TOKEN" in resp.json()["errors"][0]["details"]
