"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from indexer.celery_app import JobQueue, make_celery
from indexer.index_admin import ensure_index
from indexer.metrics import Histogram
from search_api.cors import PublicCors
from search_api.errors import install_error_handlers
from search_api.openapi_doc import install_openapi
from search_api.query_timing import QueryTiming
from search_api.rate_limit import RateLimiter
from search_api.request_limits import RequestLimits
from search_api.routes import events, jobs, listings, search_schemas, status
from search_api.services import Services

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
        if ensure_index_on_start:
            ensure_index(services.engine, services.settings, services.names)
        yield

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
