"""An operator's change of search schemas, carried to the live index: recorded in the registry,
then either written onto the live index at once (a change of `doc` or `default` only changes no
mapping) or brought in by a background rebuild, with no downtime and no lost event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from indexer.index import schema_registry
from indexer.index.lifecycle import set_live_schemas
from indexer.index.live import live_index
from indexer.rebuild.job import join_running, start_rebuild
from indexer.services import Services
from schemas.search_schema import SearchSchema

Enqueue = Callable[[str], None]


def listing(services: Services) -> dict[str, Any]:
    """The registry's schemas, and whether the live index already reflects them."""
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


def reindex(services: Services, *, reason: str, enqueue: Enqueue) -> str:
    """A rebuild of the live index with the registry's schemas as they are now (or the one running)."""
    generation = schema_registry.load(services.engine, services.names).generation
    return start_rebuild(services, reason=reason, enqueue=enqueue, generation=generation)


def set_schema(services: Services, schema: SearchSchema, *, enqueue: Enqueue) -> dict[str, Any] | None:
    """Set (or replace) one schema; the rebuild job it started or joined, or None when it is in
    effect already. Raises `schema_registry.TooManySchemas`."""
    registry = schema_registry.put(services.engine, services.names, schema)
    return _apply(services, registry, f"set {schema.path} ({schema.type})", enqueue)


def remove_schema(services: Services, scope: str, key: str, *, enqueue: Enqueue) -> dict[str, Any] | None:
    """Remove one schema. Raises `schema_registry.SchemaNotFound`."""
    registry = schema_registry.remove(services.engine, services.names, scope, key)
    return _apply(services, registry, f"unset {scope}/{key}", enqueue)


def _apply(
    services: Services, registry: schema_registry.Registry, reason: str, enqueue: Enqueue
) -> dict[str, Any] | None:
    """Bring the live index in line with the registry: a metadata update, or a rebuild job."""
    live = live_index(services.engine, services.names)
    if live is not None and registry.schemas.fingerprint() == live.schemas.fingerprint():
        # Docs and defaults only: in effect now. A rebuild in progress also carries them over.
        set_live_schemas(services.engine, live, registry.schemas)
        services.live.invalidate()
        running = join_running(services, registry.generation)
        return {"id": running} if running else None
    return {"id": start_rebuild(services, reason=reason, enqueue=enqueue, generation=registry.generation)}
