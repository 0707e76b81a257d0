"""Client factories, so every process talks to the engine and Redis the same way."""

from __future__ import annotations

import redis
from opensearchpy import OpenSearch


def opensearch_client(url: str, *, timeout: float = 30.0) -> OpenSearch:
    # Retries are ours (the worker backs off and never acknowledges early), not the client's.
    # A pool per thread that may call at once (API thread pool, worker, jobs).
    return OpenSearch(
        hosts=[url], timeout=timeout, max_retries=0, retry_on_timeout=False, http_compress=False, pool_maxsize=64
    )


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)
