"""A running service for one test: the API on a real socket and worker threads, under fresh prefixes."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from celery import Celery
from opensearchpy import helpers

from indexer.services import Services
from indexer.tasks.celery_app import JobQueue
from infra.settings import Settings
from listing_search.runner import WorkerThread, cli_command, scratch_deployment, serve_in_thread, start_worker
from search_api.app import create_app

OPERATOR_TOKEN = "test-operator-token"


@dataclass
class Service:
    url: str
    services: Services
    public: httpx.Client
    operator: httpx.Client
    workers: list[WorkerThread]

    def send(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        resp = self.operator.post("/v1/events", json={"data": events})
        assert resp.status_code == 202, resp.text
        data: dict[str, Any] = resp.json()["data"]
        return data

    def status(self, *, engine_patience: float = 30.0) -> dict[str, Any]:
        """`GET /v1/status`, asked again while its engine figures are "unavailable" (for up to
        `engine_patience` seconds), as any client that needs them would: status gives the engine a
        1.5 s budget, which the embedded engine can overrun for a moment while it is busy (a rebuild's
        swap under load). A really sick engine still shows: the last answer is returned as it is."""
        deadline = time.monotonic() + engine_patience
        while True:
            resp = self.operator.get("/v1/status")
            assert resp.status_code == 200, resp.text
            result: dict[str, Any] = resp.json()
            if result["engine"]["state"] == "ok" or time.monotonic() >= deadline:
                return result
            time.sleep(0.1)

    def wait_searchable(self, timeout: float = 60.0) -> dict[str, Any]:
        """The contract's recipe: pending == 0, no booking waiting for its transaction, and
        lastSequenceId == newest accepted."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(engine_patience=0)  # the recipe needs only the Redis figures
            if (
                status["pending"] == 0
                and status["waitingBookings"] == 0
                and status["lastSequenceId"] == status["acceptedSequenceId"]
            ):
                # Callers read the engine figures of the answer too.
                return status if status["engine"]["state"] == "ok" else self.status()
            assert time.monotonic() < deadline, f"not searchable after {timeout}s: {status}"
            time.sleep(0.05)

    def query(self, **params: Any) -> dict[str, Any]:
        resp = self.public.get("/v1/api/listings/query", params=params)
        assert resp.status_code == 200, resp.text
        result: dict[str, Any] = resp.json()
        return result

    def ids(self, **params: Any) -> list[str]:
        return [d["id"] for d in self.query(**params)["data"]]

    def all_ids(self, **params: Any) -> list[str]:
        """Every matching id, page by page (checking the pages add up to totalItems)."""
        out: list[str] = []
        page = 1
        while True:
            body = self.query(perPage=100, page=page, **params)
            out += [d["id"] for d in body["data"]]
            if page >= body["meta"]["totalPages"]:
                assert len(out) == body["meta"]["totalItems"]
                return out
            page += 1

    def id_set(self, **params: Any) -> set[str]:
        return set(self.all_ids(**params))

    def set_schema(self, scope: str, key: str, type_: str, **extra: Any) -> dict[str, Any]:
        resp = self.operator.put(f"/v1/search-schemas/listing/{scope}/{key}", json={"type": type_, **extra})
        assert resp.status_code == 200, resp.text
        result: dict[str, Any] = resp.json()
        return result

    def wait_job(self, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job: dict[str, Any] = self.operator.get(f"/v1/jobs/{job_id}").json()
            if job["state"] in ("succeeded", "failed"):
                return job
            assert time.monotonic() < deadline, f"job not done after {timeout}s: {job}"
            time.sleep(0.05)

    def apply_schema(self, scope: str, key: str, type_: str, **extra: Any) -> dict[str, Any] | None:
        """Set a schema and wait for its rebuild (if any) to finish successfully."""
        job = self.set_schema(scope, key, type_, **extra)["meta"]["job"]
        if job is None:
            return None
        done = self.wait_job(job["id"])
        assert done["state"] == "succeeded", done
        return done


@contextmanager
def running_service(
    engine_url: str, redis_url: str, *, jobs: Celery | None = None, workers: int = 1, **overrides: Any
) -> Iterator[Service]:
    """API + `workers` stream workers (threads), isolated by fresh prefixes; `jobs` is the
    session's Celery app whose worker runs this service's background jobs."""
    tag = uuid.uuid4().hex[:10]
    values: dict[str, Any] = {
        "opensearch_url": engine_url,
        "redis_url": redis_url,
        "operator_token": OPERATOR_TOKEN,
        "index_prefix": f"t-{tag}",
        "redis_prefix": f"lstest:{tag}:",
        "replicas": 0,
        "block_ms": 50,
    }
    settings = Settings(**{**values, **overrides})
    with scratch_deployment(settings, engine_url=engine_url) as services:
        stream_workers = [start_worker(services, consumer=f"test-worker-{i}") for i in range(workers)]
        queue = JobQueue(jobs, settings) if jobs is not None else None
        server = serve_in_thread(create_app(services, job_queue=queue))
        public = httpx.Client(base_url=server.url, timeout=30)
        operator = httpx.Client(base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
        try:
            yield Service(server.url, services, public, operator, stream_workers)
        finally:
            public.close()
            operator.close()
            server.stop()
            for worker in stream_workers:
                worker.stop()


def contents(svc: Service) -> dict[str, Any]:
    """Every stored document of the service's live index, by listing id."""
    engine, alias = svc.services.engine, svc.services.names.alias
    return {h["_id"]: h["_source"] for h in helpers.scan(engine, index=alias, query={"query": {"match_all": {}}})}


def in_order_contents(
    engine_url: str, redis_url: str, events: list[dict[str, Any]], *, page: int = 100
) -> dict[str, Any]:
    """The oracle: the same events sent once each, in sequenceId order, to a fresh service."""
    with running_service(engine_url, redis_url) as ordered:
        for start in range(0, len(events), page):
            ordered.send(events[start : start + page])
        ordered.wait_searchable(timeout=180)
        return contents(ordered)


def service_env(svc: Service, engine_url: str, **extra: str) -> dict[str, str]:
    """The environment a `listing-search` subprocess needs to join this test's service."""
    s = svc.services.settings
    return {
        **os.environ,
        "OPENSEARCH_URL": engine_url,
        "REDIS_URL": s.redis_url,
        "LISTING_SEARCH_INDEX_PREFIX": s.index_prefix,
        "LISTING_SEARCH_REDIS_PREFIX": s.redis_prefix,
        "LISTING_SEARCH_REPLICAS": "0",
        **extra,
    }


def worker_process(svc: Service, engine_url: str, name: str, **env: str) -> subprocess.Popen[str]:
    """`listing-search worker --name <name>` as a process of its own, joining this test's service
    (what a test can SIGKILL); `env` adds settings."""
    return subprocess.Popen(
        [*cli_command(), "worker", "--name", name],
        env=service_env(svc, engine_url, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # tests.support.processes stops or crashes it as a group
    )


def contract_error(resp: httpx.Response, status: int, path: list[str] | None = None) -> dict[str, Any]:
    """The one error of a response in the contract's shape, checked; `path` is `source.path`."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json", resp.headers
    [err] = resp.json()["errors"]
    assert err["status"] == status and err["code"] and err["title"] and err["details"] and err["id"], err
    if path is not None:
        assert err["source"] == {"path": path}, err
        assert err["details"].startswith(f"{path[-1]}:"), err
    result: dict[str, Any] = err
    return result
