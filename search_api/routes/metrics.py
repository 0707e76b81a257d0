"""Prometheus metrics (`GET /metrics`, operator credential): read from Redis and the process only,
plus a short engine probe, so a scrape answers while the engine is sick."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from indexer.ops.metrics import render
from indexer.ops.status import probe_engine
from infra import histogram
from search_api.auth.operator import OperatorDep
from search_api.services import ServicesDep

# The `listing_search_engine_up` probe of each scrape: short, as a scrape must not wait on the engine.
METRICS_ENGINE_PROBE_SECONDS: Final = 0.5

router = APIRouter(tags=["operator"], dependencies=[OperatorDep])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Text exposition format: event counters, pending events and ingest lag, `_bulk` and query "
    "latency histograms, rebuild progress, all read from Redis, and `listing_search_engine_up` (1 when the "
    f"engine answered a count within {METRICS_ENGINE_PROBE_SECONDS:g} s). Needs the operator credential "
    "(Prometheus: `authorization`).",
    response_class=PlainTextResponse,
)
def metrics(request: Request, services: ServicesDep) -> PlainTextResponse:
    engine_up = probe_engine(services.engine, services.names, METRICS_ENGINE_PROBE_SECONDS) is None
    # This process's latest searches first; the instance's other workers flush theirs every second.
    key = request.app.state.query_latency_key
    histogram.flush(services.redis, key, request.app.state.query_latency)
    text = render(services.redis, services.keys, key, engine_up=engine_up)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
