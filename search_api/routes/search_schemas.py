"""Operator search schemas: `GET /v1/search-schemas`, `PUT`/`DELETE /v1/search-schemas/listing/{scope}/{key}`.

A change that alters the mapping starts a background rebuild and answers with its job id; a
change of `doc` or `default` only is recorded on the live index at once.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, ValidationError

from indexer import schema_registry
from indexer.index_admin import live_index, set_live_schemas
from indexer.rebuild import join_running, start_rebuild
from schemas.search_schema import SchemaType, SearchSchema
from search_api.auth import OperatorDep
from search_api.errors import ApiError
from search_api.services import Services, ServicesDep

router = APIRouter(prefix="/v1/search-schemas", tags=["operator"], dependencies=[OperatorDep])


class SchemaBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: SchemaType
    default: Any = None
    doc: str | None = None


def apply_change(
    services: Services, request: Request, registry: schema_registry.Registry, reason: str
) -> dict[str, Any] | None:
    """Bring the live index in line with the registry: a metadata update, or a rebuild job."""
    live = live_index(services.engine, services.names)
    if live is not None and registry.schemas.fingerprint() == live.schemas.fingerprint():
        # Docs and defaults only: in effect now. A rebuild in progress also carries them over.
        set_live_schemas(services.engine, live, registry.schemas)
        services.live.invalidate()
        running = join_running(services, registry.generation)
        return {"id": running} if running else None
    enqueue = request.app.state.job_queue.enqueue_rebuild
    return {"id": start_rebuild(services, reason=reason, enqueue=enqueue, generation=registry.generation)}


def _validated(scope: str, key: str, body: SchemaBody) -> SearchSchema:
    try:
        return SearchSchema(key=key, scope=scope, type=body.type, default=body.default, doc=body.doc)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        msg = str(first["msg"]).removeprefix("Value error, ")
        param = str(first["loc"][0]) if first["loc"] else "body"
        if ":" not in msg.split(" ")[0]:
            msg = f"{param}: {msg}"
        raise ApiError(400, msg, param=param, location="path" if param in ("key", "scope") else "body") from None


@router.get("", summary="List search schemas")
def list_schemas(services: ServicesDep) -> dict[str, Any]:
    registry = schema_registry.load(services.engine, services.names)
    live = live_index(services.engine, services.names)
    return {
        "data": registry.schemas.as_json(),
        "meta": {
            "generation": registry.generation,
            "liveIndex": live.name if live else None,
            # False while a rebuild is bringing the live index up to the registry.
            "inSync": live is not None and live.schemas == registry.schemas,
        },
    }


@router.put(
    "/listing/{scope}/{key}",
    summary="Set a search schema",
    description="Creates or replaces the schema of `publicData.<key>` (scope `public`, query `pub_<key>`) or "
    "`metadata.<key>` (scope `metadata`, query `meta_<key>`). Types: enum, multi-enum, boolean, long, text. "
    "A change of type or a new key rebuilds the index in the background (no downtime, no lost events); "
    "follow `meta.job.id` at `GET /v1/jobs/{id}`.",
)
def put_schema(
    scope: Literal["public", "metadata"], key: str, body: SchemaBody, request: Request, services: ServicesDep
) -> dict[str, Any]:
    schema = _validated(scope, key, body)
    try:
        registry = schema_registry.put(services.engine, services.names, schema)
    except schema_registry.TooManySchemas as exc:
        raise ApiError(400, f"key: {exc}", param="key", location="path") from None
    job = apply_change(services, request, registry, f"set {schema.path} ({schema.type})")
    return {"data": schema.as_json(), "meta": {"job": job}}


@router.delete("/listing/{scope}/{key}", summary="Remove a search schema")
def delete_schema(
    scope: Literal["public", "metadata"], key: str, request: Request, services: ServicesDep
) -> dict[str, Any]:
    try:
        registry = schema_registry.remove(services.engine, services.names, scope, key)
    except schema_registry.SchemaNotFound:
        raise ApiError(404, f"no search schema {scope}/{key}", param="key", location="path") from None
    job = apply_change(services, request, registry, f"unset {scope}/{key}")
    return {"data": {"scope": scope, "key": key}, "meta": {"job": job}}
