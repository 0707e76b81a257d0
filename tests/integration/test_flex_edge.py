"""The public API's edge for the Flex SDK: `POST /v1/auth/token`, bearer tokens, Transit by
content negotiation (decoded by the SDK's own reader) and CORS, against the real engine."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from infra.settings import Settings
from listing_search.runner import serve_in_thread
from search_api.app import create_app
from search_api.auth.public_tokens import TokenIssuer
from search_api.redis_keys import ApiKeys
from tests.support.sdk import SDK_DIR, node_or_skip
from tests.support.service import OPERATOR_TOKEN, Service, contract_error, running_service
from tests.support.tcp_proxy import TcpProxy

FORM = {"content-type": "application/x-www-form-urlencoded"}
TRANSIT = {"Accept": "application/transit+json"}
STOREFRONT = "https://shop.example"


@pytest.fixture(scope="module")
def svc(engine_url: str, redis_url: str) -> Iterator[Service]:
    with running_service(engine_url, redis_url, cors_origins=[STOREFRONT]) as service:
        service.send([listing_event(i) for i in range(3)])
        service.wait_searchable()
        yield service


def listing_event(i: int) -> dict[str, Any]:
    from tests.support.events import event_envelope

    lid = f"00000000-0000-4000-8000-{i:012d}"
    resource = {
        "id": lid,
        "type": "listing",
        "attributes": {
            "title": f"Listing {i}",
            "description": "d",
            "geolocation": {"lat": 42.6, "lng": -73.7},
            "price": {"amount": 1000 + i, "currency": "USD"},
            "publicData": {"listingType": "Private room"},
            "metadata": {},
            "state": "published",
            "deleted": False,
            "createdAt": "2024-01-01T00:00:00.000Z",
        },
        "relationships": {"author": {"data": {"id": "0b1f3c1e-5f0a-4c38-9a85-1c2d3e4f5a6b", "type": "user"}}},
    }
    return event_envelope(i + 1, "listing/created", lid, resource)


def token(svc: Service, **form: str) -> httpx.Response:
    body = {"client_id": "shop", "grant_type": "client_credentials", "scope": "public-read", **form}
    return svc.public.post("/v1/auth/token", content="&".join(f"{k}={v}" for k, v in body.items()), headers=FORM)


def sdk_read(bodies: list[bytes]) -> list[Any]:
    """Transit bodies decoded by the Flex SDK's reader (tests/sdk/transit_read.js)."""
    node = node_or_skip()
    lines = "".join(json.dumps(b.decode()) + "\n" for b in bodies)
    run = subprocess.run([node, "transit_read.js"], cwd=SDK_DIR, input=lines, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    answers = [json.loads(line) for line in run.stdout.splitlines()]
    assert all("ok" in a for a in answers), answers
    return [a["ok"] for a in answers]


def test_an_anonymous_token_as_flex_issues_it(svc: Service) -> None:
    resp = token(svc)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}  # no refresh token
    assert body["token_type"] == "bearer" and body["scope"] == "public-read" and body["expires_in"] == 86_400
    authed = svc.public.get("/v1/api/listings/query", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert authed.status_code == 200 and len(authed.json()["data"]) == 3


@pytest.mark.parametrize(
    ("form", "headers", "status", "error"),
    [
        ({"grant_type": "password"}, FORM, 400, "unsupported_grant_type"),
        ({"grant_type": ""}, FORM, 400, "invalid_request"),
        ({"client_id": ""}, FORM, 400, "invalid_request"),
        ({"scope": "user"}, FORM, 400, "invalid_scope"),
        ({"client_secret": "s"}, FORM, 401, "invalid_client"),
        ({}, {"content-type": "application/json"}, 400, "invalid_request"),
    ],
)
def test_bad_token_requests_get_oauth_errors(
    svc: Service, form: dict[str, str], headers: dict[str, str], status: int, error: str
) -> None:
    body = {"client_id": "shop", "grant_type": "client_credentials", "scope": "public-read", **form}
    resp = svc.public.post("/v1/auth/token", content="&".join(f"{k}={v}" for k, v in body.items()), headers=headers)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"] == error and resp.json()["error_description"]


def test_a_repeated_field_and_a_refused_client_id(engine_url: str, redis_url: str) -> None:
    with running_service(engine_url, redis_url, token_client_ids=["web-shop"]) as service:
        resp = service.public.post(
            "/v1/auth/token", content="client_id=web-shop&client_id=x&grant_type=client_credentials", headers=FORM
        )
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
        refused = token(service)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
        assert token(service, client_id="web-shop").status_code == 200


def test_bad_bearer_tokens_are_401_and_good_ones_work(svc: Service) -> None:
    issued = token(svc).json()["access_token"]
    settings: Settings = svc.services.settings
    # A restart (a new issuer over the same deployment) accepts the tokens issued before it.
    again = TokenIssuer(settings, svc.services.redis, ApiKeys(svc.services.keys.prefix))
    assert again.verify(issued) is None
    expired = again.issue("shop", now=time.time() - 2 * settings.token_ttl_seconds)["access_token"]
    head, payload, sig = issued.split(".")
    forged = f"{head}.{payload}.{sig[:-2]}AA"
    for bad, why in [
        (expired, "expired"),
        (forged, "signature"),
        ("not-a-token", "not a token"),
        (f"{issued}x", "signature"),
    ]:
        resp = svc.public.get("/v1/api/listings/query", headers={"Authorization": f"Bearer {bad}"})
        err = contract_error(resp, 401, ["header", "Authorization"])
        assert why in err["details"], err
        assert resp.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    basic = svc.public.get("/v1/api/listings/query", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    contract_error(basic, 401, ["header", "Authorization"])
    # An anonymous token opens nothing an operator endpoint guards.
    assert svc.public.get("/v1/status", headers={"Authorization": f"Bearer {issued}"}).status_code == 403
    for good in (issued, OPERATOR_TOKEN):
        resp = svc.public.get("/v1/api/listings/query", headers={"Authorization": f"Bearer {good}"})
        assert resp.status_code == 200, resp.text


def test_json_answers_are_unchanged_and_transit_only_when_asked(svc: Service) -> None:
    path = "/v1/api/listings/query?sort=price&perPage=2"
    plain = svc.public.get(path)
    for headers in ({"Accept": "application/json"}, {"Accept": "*/*"}, {"Accept": "application/transit+json;q=0"}):
        same = svc.public.get(path, headers=headers)
        assert same.headers["content-type"] == "application/json"
        assert same.content == plain.content
    assert plain.headers["vary"] == "Accept"
    compact = svc.public.get(path, headers=TRANSIT)
    verbose = svc.public.get(path, headers={**TRANSIT, "X-Transit-Verbose": "true"})
    for resp in (compact, verbose):
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "application/transit+json;charset=UTF-8"
    assert compact.content.startswith(b'["^ ","~:data"') and verbose.content.startswith(b'{"~:data"')
    first = plain.json()["data"][0]
    for decoded in sdk_read([compact.content, verbose.content]):
        got = decoded["data"][0]
        assert got["id"] == {"$uuid": first["id"]}
        assert got["type"] == "listing"
        assert got["attributes"]["price"] == {"$money": [first["attributes"]["price"]["amount"], "USD"]}
        assert got["attributes"]["geolocation"] == {"$latlng": [42.6, -73.7]}
        assert got["attributes"]["createdAt"] == {"$date": 1704067200000}
        assert decoded["meta"] == plain.json()["meta"]


def test_every_public_error_speaks_transit_to_the_sdk(svc: Service, engine_url: str, redis_url: str) -> None:
    answers = [
        (400, svc.public.get("/v1/api/listings/query?pub_nope=1", headers=TRANSIT)),
        (401, svc.public.get("/v1/api/listings/query", headers={**TRANSIT, "Authorization": "Bearer x"})),
        (404, svc.public.get("/v1/api/listings/show?id=00000000-0000-4000-8000-999999999999", headers=TRANSIT)),
        (404, svc.public.get("/v1/api/no-such-endpoint", headers=TRANSIT)),
        (414, svc.public.get("/v1/api/listings/query", params={"keywords": "x" * 20_000}, headers=TRANSIT)),
    ]
    with running_service(engine_url, redis_url, rate_limit_requests=1, rate_limit_window_seconds=60) as limited:
        limited.public.get("/v1/api/listings/query")
        answers.append((429, limited.public.get("/v1/api/listings/query", headers=TRANSIT)))
    proxy = TcpProxy(engine_url)
    with running_service(proxy.url, redis_url, search_timeout_seconds=1) as sick:
        assert sick.public.get("/v1/api/listings/query").status_code == 200
        proxy.down()
        try:
            answers.append((503, sick.public.get("/v1/api/listings/query", headers=TRANSIT)))
        finally:
            proxy.up()  # the service's teardown needs its engine
    for status, resp in answers:
        assert resp.status_code == status, resp.text
        assert resp.headers["content-type"] == "application/transit+json;charset=UTF-8"
    for (status, _), body in zip(answers, sdk_read([r.content for _, r in answers]), strict=True):
        [err] = body["errors"]
        assert err["status"] == status and err["details"] and err["title"], err
        assert set(err["id"]) == {"$uuid"}, err


def test_an_unexpected_error_answers_500_in_the_asked_shape_with_cors(svc: Service) -> None:
    """A bug in a public route still gives the SDK a readable Transit error, and a browser page its
    CORS headers (the outermost 500 handler sits outside CORS)."""
    app = create_app(svc.services, ensure_index_on_start=False)

    @app.get("/v1/api/listings/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    server = serve_in_thread(app)
    try:
        # One connection each: the server closes a connection whose request raised.
        url = f"{server.url}/v1/api/listings/boom"
        as_transit = httpx.get(url, headers={**TRANSIT, "Origin": STOREFRONT}, timeout=30)
        as_json = httpx.get(url, headers={"Origin": STOREFRONT}, timeout=30)
    finally:
        server.stop()
    assert as_transit.status_code == 500 and as_transit.headers["access-control-allow-origin"] == STOREFRONT
    assert as_transit.headers["content-type"] == "application/transit+json;charset=UTF-8"
    [err] = sdk_read([as_transit.content])[0]["errors"]
    assert err["status"] == 500 and "a bug" not in json.dumps(err), err
    contract_error(as_json, 500)
    assert as_json.headers["access-control-allow-origin"] == STOREFRONT and "retry-after" not in as_json.headers


def test_json_and_transit_answers_vary_by_accept_and_origin(svc: Service) -> None:
    for headers in ({"Origin": STOREFRONT}, {**TRANSIT, "Origin": STOREFRONT}):
        resp = svc.public.get("/v1/api/listings/query", headers=headers)
        assert resp.status_code == 200
        # A shared cache must keep JSON and Transit apart, and one origin's answer from another's.
        assert resp.headers["vary"] == "Accept, Origin", resp.headers


def test_browsers_may_send_the_sdk_headers_and_ask_for_a_token(svc: Service) -> None:
    pre = svc.public.options(
        "/v1/api/listings/query",
        headers={
            "Origin": STOREFRONT,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization,x-transit-verbose",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == STOREFRONT
    assert {h.strip() for h in pre.headers["access-control-allow-headers"].split(",")} >= {
        "authorization",
        "x-transit-verbose",
    }
    pre = svc.public.options(
        "/v1/auth/token",
        headers={
            "Origin": STOREFRONT,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert pre.status_code == 204 and pre.headers["access-control-allow-methods"] == "POST"
    issued = svc.public.post(
        "/v1/auth/token",
        content="client_id=shop&grant_type=client_credentials&scope=public-read",
        headers={**FORM, "Origin": STOREFRONT},
    )
    assert issued.status_code == 200 and issued.headers["access-control-allow-origin"] == STOREFRONT
    refused = svc.public.get(
        "/v1/api/listings/query", headers={"Origin": STOREFRONT, "Authorization": "Bearer expired"}
    )
    # The SDK in a browser must be able to read the 401 to fetch a fresh token.
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == STOREFRONT
    other = svc.public.options(
        "/v1/auth/token", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert other.status_code == 403
