"""Operator search schemas: `GET /v1/search-schemas`, `PUT`/`DELETE /v1/search-schemas/listing/{scope}/{key}`.

A change that alters the mapping starts a background rebuild and answers with its job id; a
change of `doc` or `default` only is recorded on the live index at once.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, ValidationError

from indexer.index import schema_registry
from indexer.rebuild import schema_change
from schemas.search_schema import SchemaType, SearchSchema
from search_api.auth.operator import OperatorDep
from search_api.errors import ApiError
from search_api.services import ServicesDep

router = APIRouter(prefix="/v1/search-schemas", tags=["operator"], dependencies=[OperatorDep])


class SchemaBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: SchemaType
    default: Any = None
    doc: str | None = None


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
    return schema_change.listing(services)


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
        job = schema_change.set_schema(services, schema, enqueue=request.app.state.job_queue.enqueue_rebuild)
    except schema_registry.TooManySchemas as exc:
        raise ApiError(400, f"key: {exc}", param="key", location="path") from None
    return {"data": schema.as_json(), "meta": {"job": job}}


@router.delete("/listing/{scope}/{key}", summary="Remove a search schema")
def delete_schema(
    scope: Literal["public", "metadata"], key: str, request: Request, services: ServicesDep
) -> dict[str, Any]:
    enqueue = request.app.state.job_queue.enqueue_rebuild
    try:
        job = schema_change.remove_schema(services, scope, key, enqueue=enqueue)
    except schema_registry.SchemaNotFound:
        raise ApiError(404, f"no search schema {scope}/{key}", param="key", location="path") from None
    return {"data": {"scope": scope, "key": key}, "meta": {"job": job}}
