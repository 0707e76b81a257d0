"""Operator intake: `POST /v1/events` with `{"data": [event, ...]}` (one `events/query` page as is)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from indexer.pipeline.intake import Backpressure, accept, event_limits
from search_api.auth.operator import OperatorDep
from search_api.errors import ApiError
from search_api.services import ServicesDep

router = APIRouter(tags=["operator"], dependencies=[OperatorDep])


@router.post(
    "/v1/events",
    status_code=202,
    summary="Submit change events",
    description="Flex Integration API events. Each is validated on its own: good ones are queued for "
    "indexing, malformed ones go to the dead-letter store with the reason, event types search does not "
    "use are counted and ignored. Answers with the counts and the highest accepted sequenceId, which "
    "`GET /v1/status` reports as `lastSequenceId` once it is searchable.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["data"],
                        "properties": {"data": {"type": "array", "items": {"type": "object"}}},
                    }
                }
            },
        },
        "responses": {
            "202": {
                "content": {
                    "application/json": {
                        "example": {"data": {"accepted": 99, "deadLettered": 1, "ignored": 0, "maxSequenceId": 1234}}
                    }
                }
            },
            "400": {"description": "The body is not JSON or has no `data` list"},
            "413": {"description": "Body over LISTING_SEARCH_MAX_BODY_BYTES, or too many events in one request"},
            "503": {"description": "Too many events waiting; retry after the given delay"},
        },
    },
)
async def post_events(request: Request, services: ServicesDep) -> Response:
    settings = services.settings
    raw = await request.body()  # at most max_body_bytes: search_api.request_limits saw to that
    try:
        body: Any = orjson.loads(raw)  # strict JSON: NaN and Infinity are refused
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"body: not valid JSON ({exc})", param="body", location="body") from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ApiError(400, 'body: expected {"data": [event, ...]}', param="data", location="body")
    events = body["data"]
    if len(events) > settings.max_events_per_request:
        raise ApiError(
            413, f"data: at most {settings.max_events_per_request} events per request", param="data", location="body"
        )
    try:
        result = await run_in_threadpool(
            accept,
            services.redis,
            services.keys,
            events,
            max_pending=settings.max_pending_events,
            limits=event_limits(settings),
        )
    except Backpressure as exc:
        raise ApiError(503, f"{exc}; retry later", headers={"Retry-After": "5"}) from exc
    return Response(orjson.dumps({"data": result.as_json()}), status_code=202, media_type="application/json")
