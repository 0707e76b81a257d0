"""Operator status: `GET /v1/status`, the pipeline, the index and the sync at a glance.

Status is what an operator looks at when the engine is sick, so it never waits on the engine
longer than a short, fixed time (its figures are then "unavailable", with the reason).
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter

from indexer.ops.status import operator_status
from search_api.auth.operator import OperatorDep
from search_api.services import ServicesDep

# All engine calls of one `GET /v1/status` together; the Redis part is fast, so status answers
# within about this long however the engine fails.
STATUS_ENGINE_BUDGET_SECONDS: Final = 1.5

router = APIRouter(tags=["operator"], dependencies=[OperatorDep])


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
    return operator_status(services, engine_budget_seconds=STATUS_ENGINE_BUDGET_SECONDS)
