"""The search-schema registry: one document in the cluster, updated with compare-and-set.

Kept in the cluster (not in Redis) because it must be as durable as the index it describes,
and every API, worker and job process reads the same document.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError, RequestError

from schemas.index_layout import IndexNames
from schemas.search_schema import DEFAULT_SCHEMAS, MAX_SCHEMAS, SchemaSet, SearchSchema

DOC_ID = "search-schemas"
_CAS_ROUNDS = 20


class SchemaNotFound(KeyError):
    pass


class TooManySchemas(ValueError):
    pass


@dataclass(frozen=True)
class Registry:
    schemas: SchemaSet
    # Increases with every change: a rebuild compares it to see whether it must run again.
    generation: int
    seq_no: int
    primary_term: int


def _ensure_index(engine: OpenSearch, names: IndexNames) -> None:
    if engine.indices.exists(index=names.registry):
        return
    body = {
        "settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1"},
        "mappings": {"dynamic": False, "properties": {"generation": {"type": "long"}}},
    }
    try:
        engine.indices.create(index=names.registry, body=body)
    except RequestError as exc:
        if "resource_already_exists" not in str(exc.error):
            raise


def load(engine: OpenSearch, names: IndexNames) -> Registry:
    """The registry; a fresh install starts with the default schemas (`listingType`)."""
    _ensure_index(engine, names)
    try:
        doc = engine.get(index=names.registry, id=DOC_ID)
    except NotFoundError:
        initial = {"schemas": SchemaSet(list(DEFAULT_SCHEMAS)).as_json(), "generation": 1}
        with contextlib.suppress(ConflictError):  # another process seeded it first
            engine.index(index=names.registry, id=DOC_ID, body=initial, params={"op_type": "create", "refresh": "true"})
        doc = engine.get(index=names.registry, id=DOC_ID)
    src = doc["_source"]
    return Registry(SchemaSet.from_json(src["schemas"]), int(src["generation"]), doc["_seq_no"], doc["_primary_term"])


def _update(engine: OpenSearch, names: IndexNames, change: object) -> Registry:
    for _ in range(_CAS_ROUNDS):
        current = load(engine, names)
        schemas = change(current.schemas)  # type: ignore[operator]
        body = {"schemas": schemas.as_json(), "generation": current.generation + 1}
        try:
            engine.index(
                index=names.registry,
                id=DOC_ID,
                body=body,
                params={"if_seq_no": current.seq_no, "if_primary_term": current.primary_term, "refresh": "true"},
            )
        except ConflictError:
            continue  # someone else changed it meanwhile: apply our change to theirs
        return load(engine, names)
    raise RuntimeError("the schema registry is changing too fast to update")


def put(engine: OpenSearch, names: IndexNames, schema: SearchSchema) -> Registry:
    """Set (or replace) one schema."""

    def change(schemas: SchemaSet) -> SchemaSet:
        others = [s for s in schemas if s.path != schema.path]
        if len(others) >= MAX_SCHEMAS:
            raise TooManySchemas(f"at most {MAX_SCHEMAS} search schemas")
        return SchemaSet([*others, schema])

    return _update(engine, names, change)


def remove(engine: OpenSearch, names: IndexNames, scope: str, key: str) -> Registry:
    path = f"{scope}/{key}"

    def change(schemas: SchemaSet) -> SchemaSet:
        if not any(s.path == path for s in schemas):
            raise SchemaNotFound(path)
        return SchemaSet([s for s in schemas if s.path != path])

    return _update(engine, names, change)
