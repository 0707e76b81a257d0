"""The FastAPI application factory."""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from indexer.index.lifecycle import ensure_index_when_ready
from indexer.services import Services
from indexer.tasks.celery_app import JobQueue, make_celery
from infra import histogram
from infra.clients import redis_client
from search_api.auth.public_tokens import TokenIssuer
from search_api.edge.cors import PublicCors
from search_api.edge.flex_edge import FlexEdge
from search_api.edge.query_timing import QueryTiming
from search_api.edge.rate_limit import RateLimiter
from search_api.edge.request_limits import RequestLimits
from search_api.errors import install_error_handlers
from search_api.openapi_doc import install_openapi
from search_api.redis_keys import ApiKeys
from search_api.routes import (
    auth_token,
    dead_letters,
    events,
    health,
    jobs,
    listings,
    metrics,
    search_schemas,
    status,
    storefront,
)
from search_api.routes.health import READY_TIMEOUT_SECONDS
from search_api.search.listings import PublicSearch

log = logging.getLogger(__name__)

# How long start-up waits for the engine before it serves anyway. A process restarted while the
# engine is sick must still answer /healthz, /readyz and /v1/status: that is when operators look.
START_WAIT_SECONDS = 5.0
METRICS_FLUSH_SECONDS = 1.0

DESCRIPTION = """
Self-hosted marketplace listing search that speaks the Sharetribe Flex listing-search language.

* **Public** (`/v1/api/listings/*`): no credential; only published, non-deleted listings; never `privateData`.
* **Operator** (`/v1/events`, `/v1/status`, `/v1/dead-letters`, `/v1/search-schemas`, `/v1/jobs`, `/metrics`):
  `Authorization: Bearer <LISTING_SEARCH_OPERATOR_TOKEN>`.

Every error is `{"errors": [{"id", "status", "code", "title", "details", "source": {"path": [...]}}]}`.
"""


def create_app(services: Services, *, job_queue: JobQueue | None = None, ensure_index_on_start: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if ensure_index_on_start:
            failed: list[BaseException] = []
            ready = threading.Thread(
                target=_ensure_index_until_done, args=(services, stop, failed), name="ensure-index", daemon=True
            )
            ready.start()
            ready.join(START_WAIT_SECONDS)
            if failed:
                raise failed[0]  # not a sick engine but a refusal (a bad template, …): fail loudly
            if ready.is_alive():
                log.warning(
                    "the engine has not answered within %g s of start-up: serving anyway (search answers 503 "
                    "until the index is there); still trying in the background",
                    START_WAIT_SECONDS,
                )
        flusher = threading.Thread(target=_flush_metrics, args=(app, stop), name="metrics-flush", daemon=True)
        flusher.start()
        # Start-up leaves many long-lived objects (FastAPI, pydantic, clients) that every full
        # collection would walk again, in the middle of some search. Frozen, they are never
        # scanned. A cheap guard for the tail; its effect was not measured on its own (issue 17).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            stop.set()
            await app.state.public_search.engine.close()
            flusher.join(5)
            app.state.probe_redis.close()

    app = FastAPI(
        title="listing-search",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.services = services
    api_keys = ApiKeys(services.keys.prefix)
    # Public search, whose engine call is awaited on the event loop (search_api/search/engine_call.py).
    app.state.public_search = PublicSearch.of(services)
    app.state.query_latency = histogram.Histogram()
    # Shared by the worker processes of one `listing-search api --workers N` (see metrics.py).
    instance = services.settings.instance_id or f"{socket.gethostname()}:{os.getpid()}"
    app.state.query_latency_key = api_keys.query_metrics(instance)
    # /readyz's own Redis client: redis-py has no per-command timeout, and the app's client waits 10 s.
    app.state.probe_redis = redis_client(
        services.settings.redis_url, timeout=READY_TIMEOUT_SECONDS, connect_timeout=READY_TIMEOUT_SECONDS
    )

    app.add_middleware(QueryTiming, histogram=app.state.query_latency)
    settings = services.settings
    # The last added runs first: CORS headers go on every public answer, refusals included, and
    # nothing is parsed before the request is known to be bounded.
    app.state.token_issuer = TokenIssuer(settings, services.redis, api_keys)
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes, max_query_bytes=settings.max_query_bytes)
    # The Flex edge reads only headers, so it may sit outside the limits: their 413/414 then reach
    # the SDK as Transit too. Inside CORS: a refused token still gets CORS headers, so the SDK in
    # a browser can read the 401 and fetch a fresh token.
    app.add_middleware(FlexEdge, issuer=app.state.token_issuer, operator_secret=settings.operator_secret())
    app.add_middleware(PublicCors, origins=settings.cors_origins)
    app.state.rate_limiter = (
        RateLimiter(services.redis, api_keys, settings) if settings.rate_limit_requests > 0 else None
    )

    app.state.job_queue = job_queue or JobQueue(make_celery(services.settings), services.settings)
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(listings.router)
    app.include_router(auth_token.router)
    app.include_router(events.router)
    app.include_router(status.router)
    app.include_router(dead_letters.router)
    app.include_router(metrics.router)
    app.include_router(search_schemas.router)
    app.include_router(jobs.router)
    app.include_router(health.health)
    app.include_router(storefront.api_router)
    if settings.storefront:
        # Off for `listing-search api` unless asked: `/` then answers 404 like any unknown path.
        app.include_router(storefront.page_router)
    return app


def _flush_metrics(app: FastAPI, stop: threading.Event) -> None:
    """Every second, this process's query latencies go to its instance's histogram in Redis."""
    services: Services = app.state.services
    while True:
        stopping = stop.wait(METRICS_FLUSH_SECONDS)
        try:
            histogram.flush(services.redis, app.state.query_latency_key, app.state.query_latency)
        except Exception as exc:  # Redis away: kept for the next flush; never kill the thread
            log.warning("cannot flush query metrics yet: %s", exc)
        if stopping:
            return


def app_from_env() -> FastAPI:
    """The app of one worker process of `listing-search api --workers N`, built from the environment
    (uvicorn imports it by name in each process; each gets its own clients)."""
    from infra.settings import Settings

    settings = Settings()
    return create_app(Services.from_settings(settings, engine_url=settings.opensearch_url or ""))


def _ensure_index_until_done(services: Services, stop: threading.Event, failed: list[BaseException]) -> None:
    """Make sure the index and its aliases exist, trying again while the engine is away or refuses
    the connection's settings (indexer/index/lifecycle.py says why, once per attempt). Any other
    failure is handed to start-up, which fails as loudly as before."""
    try:
        ensure_index_when_ready(services.engine, services.settings, services.names, stop)
    except Exception as exc:
        log.exception("cannot prepare the index")
        failed.append(exc)
