"""Operator jobs: reindex, resync, reconcile, roll-horizon, and `GET /v1/jobs/{id}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from indexer.jobs import records
from indexer.pipeline.horizon_roll import roll_horizon
from indexer.rebuild import schema_change
from indexer.services import Services
from indexer.sharetribe.reconcile import start_reconcile
from indexer.sharetribe.resync import start_resync
from search_api.auth.operator import OperatorDep
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
    job_id = schema_change.reindex(
        services, reason="requested by hand", enqueue=request.app.state.job_queue.enqueue_rebuild
    )
    return JSONResponse({"id": job_id}, status_code=202)


def _sync_configured(services: Services) -> None:
    if not services.settings.sync_configured():
        raise ApiError(
            409,
            "Sharetribe sync is not configured: set LISTING_SEARCH_SHARETRIBE_CLIENT_ID and "
            "LISTING_SEARCH_SHARETRIBE_CLIENT_SECRET for the API and the job worker",
        )


@router.post(
    "/resync",
    status_code=202,
    summary="Rebuild the index from the Sharetribe Integration API",
    description="Reads every listing (all states) with its stock, availability exceptions, bookings and stock "
    "reservations from the Integration API into a new index version, keeps what events taught the index "
    "after each read, then swaps the alias atomically. The sync keeps polling events meanwhile. Started "
    "automatically when the sync has no checkpoint or one older than the event retention. 409 when the "
    "sync is not configured.",
)
def resync(request: Request, services: ServicesDep) -> JSONResponse:
    _sync_configured(services)
    enqueue = request.app.state.job_queue.enqueue_rebuild
    job_id = start_resync(services, enqueue=enqueue, reason="requested by hand")
    return JSONResponse({"id": job_id}, status_code=202)


@router.post(
    "/reconcile",
    status_code=202,
    summary="Compare the index with the Integration API and repair drift",
    description="Scans the marketplace through the Integration API and compares each listing's indexed fields "
    "with what they should be. Drifted, missing and no-longer-existing listings are repaired through the "
    "event stream (unless `repair=false`). The job record reports the counts (`checked`, `inSync`, "
    "`drifted`, `missing`, `gone`, `repairsQueued`) and up to 50 `examples` with the fields that differed. "
    "Runs nightly (03:30 UTC) when the sync is configured. 409 when it is not.",
)
def reconcile(
    request: Request,
    services: ServicesDep,
    repair: bool = Query(True, description="Queue repairs; false only reports"),
) -> JSONResponse:
    _sync_configured(services)
    job_id = start_reconcile(services, reason="requested by hand", repair=repair)
    request.app.state.job_queue.enqueue_reconcile(job_id, repair=repair)
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
    rec = records.get(services.redis, services.keys, job_id)
    if rec is None:
        raise ApiError(404, f"no job {job_id}", param="job_id", location="path")
    return rec
