"""The optional per-client rate limit on public search, against the real Redis."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator

import pytest

from search_api.edge.rate_limit import client_address
from tests.support.service import Service, contract_error, running_service

LIMIT = 5


@pytest.fixture
def limited(engine_url: str, redis_url: str) -> Iterator[Service]:
    with running_service(
        engine_url, redis_url, rate_limit_requests=LIMIT, rate_limit_window_seconds=30, trusted_proxies=["127.0.0.1"]
    ) as svc:
        yield svc


def spend(svc: Service, headers: dict[str, str] | None = None) -> list[int]:
    return [svc.public.get("/v1/api/listings/query", headers=headers).status_code for _ in range(LIMIT)]


def test_over_the_limit_is_429_with_retry_after(limited: Service) -> None:
    assert spend(limited) == [200] * LIMIT
    resp = limited.public.get("/v1/api/listings/show", params={"id": "x"})
    err = contract_error(resp, 429)
    assert err["code"] == "too-many-requests" and f"more than {LIMIT}" in err["details"]
    assert 1 <= int(resp.headers["retry-after"]) <= 30
    # The window lives in Redis and expires by itself.
    keys = list(limited.services.redis.scan_iter(match=f"{limited.services.settings.redis_prefix}ratelimit:*"))
    assert len(keys) == 1 and 0 < limited.services.redis.pttl(keys[0]) <= 30_000
    # Operator endpoints and the health probe are not limited.
    assert limited.operator.get("/v1/status").status_code == 200
    assert limited.public.get("/healthz").status_code == 200


def test_each_client_behind_a_trusted_proxy_has_its_own_window(limited: Service) -> None:
    assert spend(limited, {"X-Forwarded-For": "203.0.113.7"}) == [200] * LIMIT
    assert limited.public.get("/v1/api/listings/query", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 429
    # A client cannot pick another bucket by prepending addresses: the proxy's entry (the last) counts.
    spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
    assert limited.public.get("/v1/api/listings/query", headers=spoofed).status_code == 429
    assert limited.public.get("/v1/api/listings/query", headers={"X-Forwarded-For": "203.0.113.8"}).status_code == 200


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(engine_url: str, redis_url: str) -> None:
    with running_service(engine_url, redis_url, rate_limit_requests=LIMIT, rate_limit_window_seconds=30) as svc:
        for n in range(LIMIT):
            assert svc.public.get("/v1/api/listings/query", headers={"X-Forwarded-For": f"192.0.2.{n}"}).is_success
        resp = svc.public.get("/v1/api/listings/query", headers={"X-Forwarded-For": "192.0.2.200"})
        contract_error(resp, 429)


def test_the_window_resets(engine_url: str, redis_url: str) -> None:
    with running_service(engine_url, redis_url, rate_limit_requests=2, rate_limit_window_seconds=1) as svc:
        statuses = [svc.public.get("/v1/api/listings/query").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        time.sleep(1.1)
        assert svc.public.get("/v1/api/listings/query").status_code == 200


def test_off_by_default(service: Service) -> None:
    assert all(service.public.get("/v1/api/listings/query").status_code == 200 for _ in range(30))
    assert not list(service.services.redis.scan_iter(match=f"{service.services.settings.redis_prefix}ratelimit:*"))


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "1.2.3.4", "1.2.3.4"),  # trusted proxy
        ("10.0.0.2", "1.2.3.4, 10.0.0.9", "1.2.3.4"),  # two trusted hops
        ("10.0.0.2", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # a forged left part is skipped
        ("10.0.0.2", "10.0.0.5, 10.0.0.6", "10.0.0.5"),  # all trusted: the leftmost
        ("192.0.2.1", "1.2.3.4", "192.0.2.1"),  # not a trusted peer: header ignored
        ("10.0.0.2", "garbage, 1.2.3.4", "1.2.3.4"),
        ("10.0.0.2", " , ", "10.0.0.2"),
        (None, "1.2.3.4", "unknown"),
    ],
)
def test_client_address(peer: str | None, header: str | None, expected: str) -> None:
    assert client_address(peer, header, [ipaddress.ip_network("10.0.0.0/8")]) == expected
