"""Operator dead letters: the events that could not be applied, with the reason; list, show, replay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from indexer.pipeline import dead_letters
from indexer.pipeline.intake import event_limits
from search_api.auth.operator import OperatorDep
from search_api.errors import ApiError
from search_api.services import ServicesDep

router = APIRouter(tags=["operator"], dependencies=[OperatorDep])


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
    replayed, failing = dead_letters.replay_all(services.redis, services.keys, event_limits(services.settings))
    return {"data": {"replayed": replayed, "stillFailing": [{"id": i, "reason": r} for i, r in failing]}}
