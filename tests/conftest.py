"""Test session plumbing: which engine and which Redis the suite talks to.

Engine: OPENSEARCH_URL if set; a testcontainers OpenSearch when LISTING_SEARCH_TEST_ENGINE=docker
(skipped with the reason where no Docker engine answers); otherwise the embedded osmem-server.
Redis: REDIS_URL (default 127.0.0.1:6379) if it answers, else a private redis-server; every test
uses its own key prefix and removes its keys afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from celery import Celery

from infra.local_redis import ensure_redis

DOCKER_OPT_IN = os.environ.get("LISTING_SEARCH_TEST_ENGINE") == "docker"
OPENSEARCH_IMAGE = os.environ.get("LISTING_SEARCH_TEST_IMAGE", "opensearchproject/opensearch:2.19.6")


def docker_unavailable_reason() -> str | None:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
    except Exception as exc:  # any failure means: no usable engine here
        return f"no Docker engine answers ({type(exc).__name__}: {str(exc)[:120]})"
    return None


@pytest.fixture(scope="session")
def engine_url() -> Iterator[str]:
    if os.environ.get("OPENSEARCH_URL"):
        yield os.environ["OPENSEARCH_URL"]
        return
    if DOCKER_OPT_IN:
        reason = docker_unavailable_reason()
        if reason:
            pytest.skip(f"LISTING_SEARCH_TEST_ENGINE=docker but {reason}")
        from testcontainers.opensearch import OpenSearchContainer

        with OpenSearchContainer(OPENSEARCH_IMAGE, security_enabled=False) as container:
            cfg = container.get_config()
            yield f"http://{cfg['host']}:{cfg['port']}"
        return
    from infra.embedded_engine import start_embedded_engine

    engine = start_embedded_engine()
    try:
        yield engine.url
    finally:
        engine.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    local = ensure_redis(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    try:
        yield local.url
    finally:
        local.close()


@pytest.fixture(scope="session")
def job_worker(engine_url: str, redis_url: str) -> Iterator[Celery]:
    """One real Celery worker (threads) for the session; each test service sends its jobs here
    with its own prefixes. One per process, because Celery's worker state is process-wide."""
    from infra.settings import Settings
    from listing_search.runner import job_worker_in_thread

    settings = Settings(opensearch_url=engine_url, redis_url=redis_url)
    prefix = f"lstest-celery-{uuid.uuid4().hex[:8]}:"
    with job_worker_in_thread(settings, engine_url, broker_prefix=prefix) as app:
        yield app
    import redis

    client = redis.Redis.from_url(redis_url)
    stale = list(client.scan_iter(match=f"{prefix}*"))
    if stale:
        client.delete(*stale)
