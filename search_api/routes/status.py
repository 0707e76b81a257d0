"""Operator status: `GET /v1/status` and the dead-letter list, plus an unauthenticated liveness probe."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from indexer import dead_letters
from indexer.status import full_status
from search_api.auth import OperatorDep
from search_api.services import ServicesDep

router = APIRouter(tags=["operator"], dependencies=[OperatorDep])
health = APIRouter(tags=["health"])


@router.get(
    "/v1/status",
    summary="Pipeline and index state",
    description="`lastSequenceId` is the highest sequenceId whose effect is searchable; `pending` counts "
    "accepted events not yet searchable. `pending == 0` with `lastSequenceId` equal to the newest "
    "accepted sequenceId means every accepted event is visible to search.",
)
def get_status(services: ServicesDep) -> dict[str, Any]:
    return full_status(services.redis, services.keys, services.engine, services.names)


@router.get("/v1/dead-letters", summary="Most recent dead letters, newest first")
def list_dead_letters(
    services: ServicesDep, limit: int = Query(100, ge=1, le=1000, description="How many to return")
) -> dict[str, Any]:
    return {
        "data": dead_letters.recent(services.redis, services.keys, limit),
        "meta": {"total": dead_letters.count(services.redis, services.keys)},
    }


@health.get("/healthz", summary="Liveness", description="200 while the process serves requests.")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
