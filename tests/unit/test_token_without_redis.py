"""With Redis away (it holds the deployment's token secret), token checks and issuing answer 503
with Retry-After, never a 500."""

from __future__ import annotations

import asyncio

import httpx

from indexer.services import Services
from infra.settings import Settings
from search_api.app import create_app


def call(method: str, path: str, **kwargs: object) -> httpx.Response:
    settings = Settings(redis_url="redis://127.0.0.1:9/0", operator_token="op")
    app = create_app(Services.from_settings(settings, engine_url="http://127.0.0.1:9"), ensure_index_on_start=False)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())


def test_a_bearer_token_that_cannot_be_checked_is_a_503() -> None:
    # Shaped like ours, so only the signature check (which needs the secret) can judge it.
    token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjF9.AAAA"
    resp = call("GET", "/v1/api/listings/query", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 503 and resp.headers["retry-after"] == "2"
    [err] = resp.json()["errors"]
    assert err["status"] == 503 and err["details"].startswith("Authorization: ")


def test_a_token_that_cannot_be_signed_is_a_503() -> None:
    resp = call(
        "POST",
        "/v1/auth/token",
        content="client_id=a&grant_type=client_credentials",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 503 and resp.headers["retry-after"] == "2"
    assert resp.json()["error"] == "temporarily_unavailable"


def test_the_operator_token_needs_no_redis() -> None:
    # Checked against the setting, before any token secret is needed: the route is reached.
    resp = call("GET", "/v1/api/listings/show", headers={"Authorization": "Bearer op"})
    assert resp.status_code == 400  # `id` is required: the request got past the edge
