"""CORS: storefront origins may call public search from a browser; operator endpoints never."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.service import Service, contract_error, running_service

STOREFRONT = "https://shop.example"
PREFLIGHT = {"Origin": STOREFRONT, "Access-Control-Request-Method": "GET"}


@pytest.fixture(scope="module")
def cors(engine_url: str, redis_url: str) -> Iterator[Service]:
    with running_service(engine_url, redis_url, cors_origins=[STOREFRONT, "http://localhost:3000"]) as svc:
        yield svc


def test_preflight_from_a_storefront(cors: Service) -> None:
    resp = cors.public.options(
        "/v1/api/listings/query", headers={**PREFLIGHT, "Access-Control-Request-Headers": "x-requested-with"}
    )
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-origin"] == STOREFRONT
    assert resp.headers["access-control-allow-methods"] == "GET, HEAD"
    assert resp.headers["access-control-allow-headers"] == "x-requested-with"
    assert resp.headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in resp.headers


def test_simple_request_from_a_storefront(cors: Service) -> None:
    ok = cors.public.get("/v1/api/listings/query", headers={"Origin": STOREFRONT})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == STOREFRONT
    # Errors carry the headers too, so the page can read what was wrong.
    bad = cors.public.get("/v1/api/listings/show", params={"id": "x"}, headers={"Origin": STOREFRONT})
    contract_error(bad, 400, ["query", "id"])
    assert bad.headers["access-control-allow-origin"] == STOREFRONT
    assert bad.headers["access-control-expose-headers"] == "Retry-After, WWW-Authenticate"


def test_other_origins_get_no_cors_headers(cors: Service) -> None:
    resp = cors.public.get("/v1/api/listings/query", headers={"Origin": "https://evil.example"})
    assert resp.status_code == 200 and "access-control-allow-origin" not in resp.headers
    preflight = cors.public.options("/v1/api/listings/query", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    contract_error(preflight, 403, ["header", "Origin"])
    assert "access-control-allow-origin" not in preflight.headers


def test_only_reads_are_allowed(cors: Service) -> None:
    resp = cors.public.options("/v1/api/listings/query", headers={**PREFLIGHT, "Access-Control-Request-Method": "POST"})
    contract_error(resp, 403, ["header", "Access-Control-Request-Method"])


@pytest.mark.parametrize("path", ["/v1/events", "/v1/status", "/v1/dead-letters"])
def test_operator_endpoints_never_answer_a_browser(cors: Service, path: str) -> None:
    preflight = cors.public.options(path, headers={**PREFLIGHT, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 405 and "access-control-allow-origin" not in preflight.headers
    direct = cors.operator.get(path, headers={"Origin": STOREFRONT})
    assert "access-control-allow-origin" not in direct.headers


def test_off_by_default(service: Service) -> None:
    assert service.services.settings.cors_origins == []
    resp = service.public.options("/v1/api/listings/query", headers=PREFLIGHT)
    contract_error(resp, 405)
    get = service.public.get("/v1/api/listings/query", headers={"Origin": STOREFRONT})
    assert "access-control-allow-origin" not in get.headers
