"""Status, metrics, probes and public search answer quickly when the engine is sick.

The sick engine is real: osmem-server behind `tests.support.tcp_proxy.TcpProxy`, which can refuse
connections (`down`), accept them and never answer (`freeze`, what a SIGSTOPped or wedged engine
does) or answer late (`slow`). The API under test talks to the engine only through the proxy; the
service's worker and its own API talk to the engine directly, so events keep being indexed and the
Redis figures keep moving meanwhile.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from indexer.index.lifecycle import drop_all
from infra.clients import opensearch_client
from listing_search.runner import free_port, serve_in_thread
from schemas.index_layout import IndexNames
from search_api.app import START_WAIT_SECONDS, create_app
from tests.support.events import listing_event, new_id
from tests.support.service import OPERATOR_TOKEN, Service, contract_error, running_service
from tests.support.tcp_proxy import TcpProxy

SEARCH_TIMEOUT = 1.0
# What the task promises for status, metrics and readiness, whatever the engine does.
PROBE_LIMIT = 2.0
ENGINE_FIELDS = ("indexVersion", "index", "documents", "publishedDocuments", "schemaFingerprint", "skippedValues")
REDIS_FIELDS = (
    "lastSequenceId",
    "acceptedSequenceId",
    "pending",
    "ingestLagSeconds",
    "deadLetters",
    "events",
    "rates",
    "sync",
)


@dataclasses.dataclass
class Behind:
    """An API process whose engine is reached only through the proxy."""

    url: str
    public: httpx.Client
    operator: httpx.Client

    def timed(self, client: httpx.Client, path: str, **params: Any) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        resp = client.get(path, params=params)
        return resp, time.monotonic() - started


@contextmanager
def api_behind(svc: Service, proxy: TcpProxy, **overrides: Any) -> Iterator[Behind]:
    """The service's deployment (same indices, same Redis keys) served by a second API whose engine
    client goes through `proxy`. The client keeps its default 30 s timeout: what bounds the waits
    must be the per-request timeouts, not a short client-wide one."""
    base = svc.services
    settings = base.settings.model_copy(update={"search_timeout_seconds": SEARCH_TIMEOUT, **overrides})
    behind = dataclasses.replace(base, settings=settings, engine=opensearch_client(proxy.url))
    server = serve_in_thread(create_app(behind, ensure_index_on_start=False))
    public = httpx.Client(base_url=server.url, timeout=30)
    operator = httpx.Client(base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    try:
        yield Behind(server.url, public, operator)
    finally:
        public.close()
        operator.close()
        server.stop()


@pytest.fixture
def proxy(engine_url: str) -> Iterator[TcpProxy]:
    tcp = TcpProxy(engine_url)
    try:
        yield tcp
    finally:
        tcp.down()


@pytest.fixture
def indexed(engine_url: str, redis_url: str) -> Iterator[tuple[Service, list[str]]]:
    with running_service(engine_url, redis_url) as svc:
        ids = [new_id() for _ in range(12)]
        svc.send([listing_event(i + 1, lid, event_type="listing/created") for i, lid in enumerate(ids)])
        svc.wait_searchable()
        yield svc, ids


def assert_healthy(api: Behind, listing_id: str, documents: int) -> None:
    ready, _ = api.timed(api.public, "/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "engine": "ok", "redis": "ok"}
    status = api.operator.get("/v1/status")
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["engine"] == {"state": "ok"}, body
    assert body["documents"] == body["publishedDocuments"] == documents and body["indexVersion"] == 1
    assert isinstance(body["schemaFingerprint"], str) and body["skippedValues"] == {}
    query = api.public.get("/v1/api/listings/query", params={"perPage": 100})
    assert query.status_code == 200 and query.json()["meta"]["totalItems"] == documents, query.text
    show = api.public.get("/v1/api/listings/show", params={"id": listing_id})
    assert show.status_code == 200 and show.json()["data"]["id"] == listing_id
    metrics = api.operator.get("/metrics")
    assert metrics.status_code == 200 and "\nlisting_search_engine_up 1\n" in metrics.text


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "did not come back"
        time.sleep(0.1)


SICKNESSES: dict[str, tuple[Callable[[TcpProxy], None], str]] = {
    "frozen": (TcpProxy.freeze, "timed out after"),
    "refused": (TcpProxy.down, "connection refused"),
    "slow": (lambda proxy: proxy.slow(3.0), "timed out after"),
}


@pytest.mark.parametrize("sickness", list(SICKNESSES))
def test_a_sick_engine_gets_quick_answers_and_recovery_is_automatic(
    indexed: tuple[Service, list[str]], proxy: TcpProxy, sickness: str
) -> None:
    svc, ids = indexed
    sicken, reason = SICKNESSES[sickness]
    timings: dict[str, float] = {}
    with api_behind(svc, proxy) as api:
        assert_healthy(api, ids[0], len(ids))
        sicken(proxy)
        # Intake and the worker are on the direct path: the Redis figures keep moving.
        svc.send([listing_event(100, new_id(), event_type="listing/created")])

        status, timings["status"] = api.timed(api.operator, "/v1/status")
        assert status.status_code == 200, status.text
        body = status.json()
        assert timings["status"] < PROBE_LIMIT, timings
        assert all(field in body for field in REDIS_FIELDS), body
        assert body["acceptedSequenceId"] == 100 and body["events"]["accepted"] == len(ids) + 1
        assert body["engine"]["state"] == "unavailable" and body["engine"]["reason"].startswith(reason), body
        assert all(body[field] == "unavailable" for field in ENGINE_FIELDS), body

        metrics, timings["metrics"] = api.timed(api.operator, "/metrics")
        assert metrics.status_code == 200 and timings["metrics"] < PROBE_LIMIT, timings
        assert "\nlisting_search_engine_up 0\n" in metrics.text
        assert f"\nlisting_search_events_accepted_total {len(ids) + 1}\n" in metrics.text

        ready, timings["readyz"] = api.timed(api.public, "/readyz")
        err = contract_error(ready, 503)
        assert timings["readyz"] < PROBE_LIMIT, timings
        assert ready.headers["retry-after"] == "2"
        got = ready.json()
        assert got["status"] == "not ready" and got["redis"] == "ok" and got["engine"].startswith(reason), got
        assert err["details"].startswith("not ready: engine " + reason), err
        assert str(proxy.port) not in ready.text and "127.0.0.1" not in ready.text  # nothing about where it is

        alive, timings["healthz"] = api.timed(api.public, "/healthz")
        assert alive.status_code == 200 and timings["healthz"] < 0.5, timings

        for path, params in (("/query", {"keywords": "listing"}), ("/show", {"id": ids[0]})):
            resp, timings[path] = api.timed(api.public, f"/v1/api/listings{path}", **params)
            err = contract_error(resp, 503)
            assert resp.headers["retry-after"] == "2"
            assert timings[path] < SEARCH_TIMEOUT + 1, timings
            expected = "the search engine is unreachable" if sickness == "refused" else "did not answer within 1 s"
            assert expected in err["details"], err

        # Concurrent searches do not queue behind one another (nor behind the live-index lookup).
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: api.timed(api.public, "/v1/api/listings/query"), range(8)))
        assert [r.status_code for r, _ in answers] == [503] * 8
        timings["8 concurrent queries, slowest"] = max(t for _, t in answers)
        assert timings["8 concurrent queries, slowest"] < SEARCH_TIMEOUT + 1, timings

        proxy.up()
        wait_until(lambda: api.public.get("/readyz").status_code == 200)
        svc.wait_searchable()
        assert_healthy(api, ids[0], len(ids) + 1)
    print(f"\n{sickness} engine: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))


def test_searches_of_a_process_that_never_reached_the_engine_fail_in_time(
    indexed: tuple[Service, list[str]], proxy: TcpProxy
) -> None:
    """A cold start against a hung engine: nothing cached, so every concurrent search waits for the
    first live-index lookup, and each gives up at its own deadline instead of queueing behind it."""
    svc, _ = indexed
    proxy.freeze()
    with api_behind(svc, proxy) as api, ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: api.timed(api.public, "/v1/api/listings/query"), range(6)))
        for resp, _ in answers:
            assert "did not answer within 1 s" in contract_error(resp, 503)["details"]
            assert resp.headers["retry-after"] == "2"
        slowest = max(t for _, t in answers)
        assert slowest < SEARCH_TIMEOUT + 1, slowest
        proxy.thaw()
        wait_until(lambda: api.public.get("/v1/api/listings/query").status_code == 200)
    print(f"\ncold start, frozen engine: 6 concurrent queries, slowest {slowest:.2f} s")


def test_readiness_names_redis_when_redis_is_away(indexed: tuple[Service, list[str]], proxy: TcpProxy) -> None:
    svc, _ = indexed
    with api_behind(svc, proxy, redis_url=f"redis://127.0.0.1:{free_port()}/0") as api:
        ready, took = api.timed(api.public, "/readyz")
        err = contract_error(ready, 503)
        assert ready.json()["engine"] == "ok" and ready.json()["redis"] == "connection refused", ready.text
        assert err["details"] == "not ready: redis connection refused" and took < PROBE_LIMIT
        assert api.public.get("/healthz").status_code == 200


def test_an_api_started_while_the_engine_hangs_serves_at_once_and_makes_its_index_later(
    indexed: tuple[Service, list[str]], proxy: TcpProxy
) -> None:
    """A restart during an outage must not leave operators blind: the API starts within its start-up
    wait, answers the probes and status, and creates the index once the engine is back."""
    svc, _ = indexed
    base = svc.services
    names = IndexNames(f"{base.names.prefix}-late")  # a deployment whose index does not exist yet
    settings = base.settings.model_copy(update={"search_timeout_seconds": SEARCH_TIMEOUT, "index_prefix": names.prefix})
    late = dataclasses.replace(base, settings=settings, names=names, engine=opensearch_client(proxy.url))
    proxy.freeze()
    started = time.monotonic()
    server = serve_in_thread(create_app(late))
    try:
        took = time.monotonic() - started
        assert took < START_WAIT_SECONDS + 2, took
        with (
            httpx.Client(base_url=server.url, timeout=30) as public,
            httpx.Client(
                base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
            ) as operator,
        ):
            assert public.get("/healthz").status_code == 200
            status = operator.get("/v1/status")
            assert status.status_code == 200 and status.json()["engine"]["state"] == "unavailable", status.text
            contract_error(public.get("/v1/api/listings/query"), 503)
            proxy.thaw()
            wait_until(lambda: public.get("/v1/api/listings/query").status_code == 200, timeout=60)
            assert operator.get("/v1/status").json()["indexVersion"] == 1
    finally:
        server.stop()
        drop_all(base.engine, names)
    print(f"\nstart-up against a frozen engine: serving after {took:.1f} s")


def test_an_index_deleted_under_the_live_alias_answers_503_then_no_index_yet(
    indexed: tuple[Service, list[str]],
) -> None:
    """An operator deletes the live index by hand: searches within the live-index cache's second
    still name it. They get a 503 with Retry-After (never a 500), and the next ones, resolved
    afresh, the usual "no index yet" 503."""
    from indexer.index.live import live_index

    svc, ids = indexed
    assert svc.public.get("/v1/api/listings/query").status_code == 200  # the cache now names the index
    live = live_index(svc.services.engine, svc.services.names)
    assert live is not None
    svc.services.engine.indices.delete(index=live.name)
    for path, params in (("/v1/api/listings/query", {}), ("/v1/api/listings/show", {"id": ids[0]})):
        resp = svc.public.get(path, params=params)
        assert resp.status_code == 503 and resp.headers["retry-after"] == "2", resp.text
        contract_error(resp, 503)
    later = svc.public.get("/v1/api/listings/query")
    assert later.status_code == 503 and "does not exist yet" in later.text, later.text
