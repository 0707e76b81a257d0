"""Operator jobs: `POST /v1/jobs/reindex`, `GET /v1/jobs/{id}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from indexer import jobs, schema_registry
from indexer.horizon import roll_horizon
from indexer.rebuild import start_rebuild
from search_api.auth import OperatorDep
from search_api.errors import ApiError
from search_api.services import ServicesDep

router = APIRouter(prefix="/v1/jobs", tags=["operator"], dependencies=[OperatorDep])


@router.post(
    "/reindex",
    status_code=202,
    summary="Rebuild the index",
    description="Builds a new index version from the current one with the registry's schemas, catches up "
    "with events that arrive meanwhile, then swaps the alias atomically. Answers with the job id.",
)
def reindex(request: Request, services: ServicesDep) -> JSONResponse:
    generation = schema_registry.load(services.engine, services.names).generation
    enqueue = request.app.state.job_queue.enqueue_rebuild
    job_id = start_rebuild(services, reason="requested by hand", enqueue=enqueue, generation=generation)
    return JSONResponse({"id": job_id}, status_code=202)


@router.post(
    "/roll-horizon",
    summary="Move the availability horizon to today now",
    description="Queues every listing whose availability was computed on an earlier day for recomputation "
    "(the job worker does this daily at 00:05 UTC). Answers with how many were queued; `pending` in "
    "`GET /v1/status` shows the progress.",
)
def roll(services: ServicesDep) -> dict[str, int]:
    return {"queued": roll_horizon(services)}


@router.get(
    "/{job_id}",
    summary="A job's state and progress",
    description="`state`: queued, running, succeeded or failed; `progress`: documents done / total; "
    "`phase` while running (copy, catch-up, swap).",
)
def get_job(job_id: str, services: ServicesDep) -> dict[str, Any]:
    rec = jobs.get(services.redis, services.keys, job_id)
    if rec is None:
        raise ApiError(404, f"no job {job_id}", param="job_id", location="path")
    return rec
