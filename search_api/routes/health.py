"""The unauthenticated probes: liveness (`/healthz`) and readiness (`/readyz`), for load balancers
and orchestrators. Readiness waits on the engine and Redis for a short, fixed time only."""

from __future__ import annotations

from typing import Final

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from indexer.ops.status import readiness
from search_api.errors import error_item
from search_api.services import ServicesDep

# Each readiness check (engine and Redis, run side by side, so /readyz answers within about this long).
READY_TIMEOUT_SECONDS: Final = 1.0

health = APIRouter(tags=["health"])


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
    checks = readiness(services.engine, services.names, request.app.state.probe_redis, READY_TIMEOUT_SECONDS)
    failed = [f"{name} {reason}" for name, reason in checks.items() if reason != "ok"]
    if not failed:
        return Response(orjson.dumps({"status": "ready", **checks}), media_type="application/json")
    body = {"errors": [error_item(503, f"not ready: {'; '.join(failed)}")], "status": "not ready", **checks}
    return Response(orjson.dumps(body), status_code=503, media_type="application/json", headers={"Retry-After": "2"})
