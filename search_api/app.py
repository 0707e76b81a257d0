"""The FastAPI application factory."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from indexer.celery_app import JobQueue, make_celery
from indexer.engine_retry import transient
from indexer.index_admin import ensure_index
from indexer.metrics import Histogram
from infra.clients import engine_failure_reason, redis_client
from search_api.cors import PublicCors
from search_api.errors import install_error_handlers
from search_api.openapi_doc import install_openapi
from search_api.query_timing import QueryTiming
from search_api.rate_limit import RateLimiter
from search_api.request_limits import RequestLimits
from search_api.routes import events, jobs, listings, search_schemas, status
from search_api.routes.status import READY_TIMEOUT_SECONDS
from search_api.services import Services

log = logging.getLogger(__name__)

# How long start-up waits for the engine before it serves anyway. A process restarted while the
# engine is sick must still answer /healthz, /readyz and /v1/status: that is when operators look.
START_WAIT_SECONDS = 5.0
START_RETRY_MAX_SECONDS = 30.0

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
        try:
            yield
        finally:
            stop.set()
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
    app.state.query_latency = Histogram()
    # /readyz's own Redis client: redis-py has no per-command timeout, and the app's client waits 10 s.
    app.state.probe_redis = redis_client(
        services.settings.redis_url, timeout=READY_TIMEOUT_SECONDS, connect_timeout=READY_TIMEOUT_SECONDS
    )

    app.add_middleware(QueryTiming, histogram=app.state.query_latency)
    settings = services.settings
    # The last added runs first: CORS headers go on every public answer, refusals included, and
    # nothing is parsed before the request is known to be bounded.
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes, max_query_bytes=settings.max_query_bytes)
    app.add_middleware(PublicCors, origins=settings.cors_origins)
    app.state.rate_limiter = (
        RateLimiter(services.redis, services.keys, settings) if settings.rate_limit_requests > 0 else None
    )

    app.state.job_queue = job_queue or JobQueue(make_celery(services.settings), services.settings)
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(listings.router)
    app.include_router(events.router)
    app.include_router(status.router)
    app.include_router(search_schemas.router)
    app.include_router(jobs.router)
    app.include_router(status.health)
    return app


def _ensure_index_until_done(services: Services, stop: threading.Event, failed: list[BaseException]) -> None:
    """Make sure the index and its aliases exist, retrying with capped backoff while the engine is
    away (ensure_index is idempotent and safe to race with workers and jobs doing the same). Any
    other failure is handed to start-up, which fails as loudly as before."""
    delay = 0.5
    while not stop.is_set():
        try:
            ensure_index(services.engine, services.settings, services.names)
            return
        except Exception as exc:
            if not transient(exc):
                log.exception("cannot prepare the index")
                failed.append(exc)
                return
            log.warning("cannot prepare the index yet (%s); retrying in %.1f s", engine_failure_reason(exc), delay)
        if stop.wait(delay):
            return
        delay = min(delay * 2, START_RETRY_MAX_SECONDS)

