"""Operator status: `GET /v1/status`, `/metrics` and the dead-letter list, plus the unauthenticated
liveness and readiness probes.

Status, metrics and readiness are what an operator and the orchestrator look at when the engine is
sick, so none of them waits on the engine longer than a short, fixed time (see the budgets below).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response

from indexer import dead_letters
from indexer.intake import event_limits
from indexer.metrics import flush_histogram, render
from indexer.sharetribe.poller import sync_status
from indexer.status import full_status, probe_engine, probe_redis
from search_api.auth import OperatorDep
from search_api.errors import ApiError, error_item
from search_api.services import ServicesDep

# All engine calls of one `GET /v1/status` together; the Redis part is fast, so status answers
# within about this long however the engine fails.
STATUS_ENGINE_BUDGET_SECONDS: Final = 1.5
# Each readiness check (engine and Redis, run side by side, so /readyz answers within about this long).
READY_TIMEOUT_SECONDS: Final = 1.0
# The `listing_search_engine_up` probe of each scrape: short, as a scrape must not wait on the engine.
METRICS_ENGINE_PROBE_SECONDS: Final = 0.5

router = APIRouter(tags=["operator"], dependencies=[OperatorDep])
health = APIRouter(tags=["health"])


@router.get(
    "/v1/status",
    summary="Pipeline and index state",
    description="`lastSequenceId` is the highest sequenceId whose effect is searchable; `pending` counts "
    "accepted events not yet searchable. `pending == 0` with `lastSequenceId` equal to the newest "
    "accepted sequenceId means every accepted event is visible to search. `sync` shows the Sharetribe "
    "sync: its checkpoint, when it last polled, its last error and the last full re-sync.\n\n"
    "The engine's figures (`indexVersion`, `index`, `documents`, `publishedDocuments`, `schemaFingerprint`, "
    f"`skippedValues`) get {STATUS_ENGINE_BUDGET_SECONDS:g} s in all: whatever the engine has not answered "
    'by then, or after it failed, is the string `"unavailable"`, and `engine` is '
    '`{"state": "unavailable", "reason": "timed out after 1.5 s"}` instead of `{"state": "ok"}`. '
    "The Redis figures are always there.",
)
def get_status(services: ServicesDep) -> dict[str, Any]:
    return {
        **full_status(
            services.redis,
            services.keys,
            services.engine,
            services.names,
            engine_budget_seconds=STATUS_ENGINE_BUDGET_SECONDS,
        ),
        "sync": sync_status(services),
    }


@router.get("/v1/dead-letters", summary="Most recent dead letters, newest first")
def list_dead_letters(
    services: ServicesDep, limit: int = Query(100, ge=1, le=1000, description="How many to return")
) -> dict[str, Any]:
    return {
        "data": dead_letters.recent(services.redis, services.keys, limit),
        "meta": {"total": dead_letters.count(services.redis, services.keys)},
    }


@router.get("/v1/dead-letters/{letter_id}", summary="One dead letter: reason, stage and the original event")
def get_dead_letter(letter_id: str, services: ServicesDep) -> dict[str, Any]:
    letter = dead_letters.get(services.redis, services.keys, letter_id)
    if letter is None:
        raise ApiError(404, f"no dead letter {letter_id}", param="letter_id", location="path")
    return {"data": letter}


@router.post(
    "/v1/dead-letters/{letter_id}/replay",
    summary="Send a dead letter's event through again",
    description="Intake-stage letters are validated again (fix the producer, or the cause, first); worker-"
    "stage letters go straight back to the stream. On success the letter is removed; otherwise 422 "
    "with the reason it still fails, and the letter stays.",
)
def replay_dead_letter(letter_id: str, services: ServicesDep) -> dict[str, Any]:
    try:
        ok, reason = dead_letters.replay(services.redis, services.keys, letter_id, event_limits(services.settings))
    except KeyError:
        raise ApiError(404, f"no dead letter {letter_id}", param="letter_id", location="path") from None
    if not ok:
        raise ApiError(
            422, f"still failing: {reason}", param="letter_id", location="path", code="dead-letter-still-invalid"
        )
    return {"data": {"id": letter_id, "replayed": True}}


@router.post("/v1/dead-letters/replay", summary="Replay every dead letter; reports the ones that still fail")
def replay_all_dead_letters(services: ServicesDep) -> dict[str, Any]:
    replayed, failing = 0, []
    limits = event_limits(services.settings)
    for letter_id in dead_letters.all_ids(services.redis, services.keys):
        ok, reason = dead_letters.replay(services.redis, services.keys, letter_id, limits)
        if ok:
            replayed += 1
        else:
            failing.append({"id": letter_id, "reason": reason})
    return {"data": {"replayed": replayed, "stillFailing": failing}}


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
    flush_histogram(services.redis, key, request.app.state.query_latency)
    text = render(services.redis, services.keys, key, engine_up=engine_up)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


@health.get(
    "/healthz",
    summary="Liveness",
    description="200 while the process serves requests. Touches neither the engine nor Redis, so a sick "
    "dependency never gets a healthy API process restarted.",
)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@health.get(
    "/readyz",
    summary="Readiness",
    description=f"200 when the engine answers a count on the public alias and Redis answers PING, each within "
    f"{READY_TIMEOUT_SECONDS:g} s. Otherwise 503 with `Retry-After`, in the error shape, with the same "
    "`engine` and `redis` fields saying which one failed and why. No credential: meant for load balancers "
    "and orchestrators deciding whether to send traffic here.",
    responses={
        200: {
            "description": "Ready",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["status", "engine", "redis"],
                        "properties": {
                            "status": {"type": "string", "enum": ["ready"]},
                            "engine": {"type": "string", "enum": ["ok"]},
                            "redis": {"type": "string", "enum": ["ok"]},
                        },
                    },
                    "example": {"status": "ready", "engine": "ok", "redis": "ok"},
                }
            },
        },
        503: {
            "description": "Not ready: `engine` or `redis` says why",
            "headers": {"Retry-After": {"description": "Seconds before checking again", "schema": {"type": "integer"}}},
        },
    },
)
def readyz(request: Request, services: ServicesDep) -> Response:
    # Side by side, so a hung engine and a hung Redis together still take one timeout, not two.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="readyz") as pool:
        engine = pool.submit(probe_engine, services.engine, services.names, READY_TIMEOUT_SECONDS)
        redis_ = pool.submit(probe_redis, request.app.state.probe_redis, READY_TIMEOUT_SECONDS)
        checks = {"engine": engine.result() or "ok", "redis": redis_.result() or "ok"}
    failed = [f"{name} {reason}" for name, reason in checks.items() if reason != "ok"]
    if not failed:
        return Response(orjson.dumps({"status": "ready", **checks}), media_type="application/json")
    body = {"errors": [error_item(503, f"not ready: {'; '.join(failed)}")], "status": "not ready", **checks}
    return Response(orjson.dumps(body), status_code=503, media_type="application/json", headers={"Retry-After": "2"})
