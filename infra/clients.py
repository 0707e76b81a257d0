"""Client factories, so every process talks to the engine and Redis the same way, and the time
budget that bounds the API's engine calls when the engine is sick."""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis
from opensearchpy.exceptions import ConnectionTimeout
from opensearchpy.serializer import JSONSerializer

from infra.engine_connection import EngineClient, EngineConnection
from infra.settings import Settings

# Below this, a call could not get an answer from even a healthy engine: fail it at once rather than
# send it. Also keeps request_timeout above 0, which opensearch-py would read as "the client's 30 s".
MIN_CALL_SECONDS = 0.02


class OrjsonSerializer(JSONSerializer):
    """The standard library's `json` decoding the engine's answers was the largest single cost of
    a search in the API's profile (issue 17); orjson does the same work several times faster and
    gives the same values, integers from -2**63 to 2**64-1 included. A wider integer comes back as
    a float, as `POST /v1/events` (orjson too) already reads one, and the workers' orjson refuses to
    write one. Text orjson refuses falls back to `json`."""

    def loads(self, s: str) -> Any:
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError:
            return super().loads(s)

    def dumps(self, data: Any) -> Any:
        if isinstance(data, str | bytes):
            return data
        try:
            return orjson.dumps(data, default=self.default).decode()
        except TypeError:
            return super().dumps(data)


def opensearch_client(
    url: str | None = None, *, timeout: float = 30.0, settings: Settings | None = None
) -> EngineClient:
    """The engine client of the settings' connection (TLS, credentials, SigV4: infra/engine_connection.py);
    `url` overrides OPENSEARCH_URL (the embedded engine, a test's proxy)."""
    connection = EngineConnection.from_settings(settings if settings is not None else Settings(), url)
    # Retries are ours (the worker backs off and never acknowledges early), not the client's.
    # A pool per thread that may call at once (API thread pool, worker, jobs).
    # The 30 s suits bulk writes and rebuild copies; calls that answer a waiting client (search,
    # status, probes) pass their own `request_timeout` from a `Deadline`.
    return connection.client(
        timeout=timeout,
        max_retries=0,
        retry_on_timeout=False,
        http_compress=False,
        pool_maxsize=64,
        serializer=OrjsonSerializer(),
    )


def redis_client(url: str, *, timeout: float = 10.0, connect_timeout: float = 5.0) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=connect_timeout, health_check_interval=30
    )


class Deadline:
    """One time budget shared by several engine calls.

    Each call is given what is left as its `request_timeout`, so a request that makes several calls
    answers within the budget; a fixed per-call timeout would multiply by the number of calls. When
    the budget is spent the next call is not sent: `request_timeout()` raises `ConnectionTimeout`, the
    same exception as a call that timed out, so callers handle one case.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def remaining(self) -> float:
        return self.seconds - self.elapsed()

    def request_timeout(self) -> float:
        left = self.remaining()
        if left < MIN_CALL_SECONDS:
            raise ConnectionTimeout("TIMEOUT", f"the {self.seconds:g} s budget is spent", None)
        return left


def request_options(deadline: Deadline | None) -> dict[str, float]:
    """Keyword arguments for an opensearch-py call: the deadline's `request_timeout`, or none (the
    client's own timeout) for callers that have no one waiting on them."""
    return {} if deadline is None else {"request_timeout": deadline.request_timeout()}
