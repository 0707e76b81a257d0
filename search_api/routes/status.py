"""Operator status: `GET /v1/status` and the dead-letter list, plus an unauthenticated liveness probe."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from indexer import dead_letters
from indexer.intake import event_limits
from indexer.metrics import render
from indexer.status import full_status
from indexer.sync import sync_status
from search_api.auth import OperatorDep
from search_api.errors import ApiError
from search_api.services import ServicesDep

router = APIRouter(tags=["operator"], dependencies=[OperatorDep])
health = APIRouter(tags=["health"])


@router.get(
    "/v1/status",
    summary="Pipeline and index state",
    description="`lastSequenceId` is the highest sequenceId whose effect is searchable; `pending` counts "
    "accepted events not yet searchable. `pending == 0` with `lastSequenceId` equal to the newest "
    "accepted sequenceId means every accepted event is visible to search. `sync` shows the Sharetribe "
    "sync: its checkpoint, when it last polled, its last error and the last full re-sync.",
)
def get_status(services: ServicesDep) -> dict[str, Any]:
    return {
        **full_status(services.redis, services.keys, services.engine, services.names),
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
    "latency histograms, rebuild progress. Needs the operator credential (Prometheus: `authorization`).",
    response_class=PlainTextResponse,
)
def metrics(request: Request, services: ServicesDep) -> PlainTextResponse:
    text = render(services.redis, services.keys, request.app.state.query_latency)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


@health.get("/healthz", summary="Liveness", description="200 while the process serves requests.")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
