"""Index lifecycle: the template, versioned indices, their aliases, and the live view.

Reads and writes resolve the alias to a concrete index together with the schemas that index
was built with (`LiveIndex`), so a reader never pairs one index with another's schemas. A
rebuild builds `vN+1` and moves every alias in one `_aliases` call.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError

from indexer import schema_registry
from infra.settings import Settings
from schemas.index_layout import LAYOUT_VERSION, IndexNames, index_settings, mappings, public_filter
from schemas.search_schema import SchemaSet

log = logging.getLogger(__name__)


def template_body(settings: Settings, names: IndexNames, schemas: SchemaSet) -> dict[str, Any]:
    return {
        "index_patterns": [names.pattern],
        "priority": 200,
        "template": {
            "settings": index_settings(
                refresh_interval=settings.refresh_interval, shards=settings.shards, replicas=settings.replicas
            ),
            "mappings": mappings(schemas),
        },
        "_meta": {"owner": "listing-search", "layout": LAYOUT_VERSION},
    }


def _public_alias_body() -> dict[str, Any]:
    return {"filter": {"bool": {"filter": public_filter()}}}


@dataclass(frozen=True)
class LiveIndex:
    name: str
    version: int
    schemas: SchemaSet
    layout: int | None

    def public_alias(self, names: IndexNames) -> str:
        return names.public_of(self.version)


def _index_meta(engine: OpenSearch, index: str) -> dict[str, Any]:
    found = engine.indices.get_mapping(index=index)
    meta: dict[str, Any] = found.get(index, {}).get("mappings", {}).get("_meta", {}) or {}
    return meta


def live_index_name(engine: OpenSearch, names: IndexNames) -> str | None:
    try:
        found = engine.indices.get_alias(name=names.alias)
    except NotFoundError:
        return None
    return next((index for index in sorted(found) if names.version_of(index) is not None), None)


def index_view(engine: OpenSearch, names: IndexNames, index: str) -> LiveIndex:
    meta = _index_meta(engine, index)
    version = names.version_of(index)
    if version is None:
        raise ValueError(f"{index} is not a versioned index of {names.prefix}")
    return LiveIndex(index, version, SchemaSet.from_json(meta.get("schemas", [])), meta.get("layout"))


def live_index(engine: OpenSearch, names: IndexNames) -> LiveIndex | None:
    index = live_index_name(engine, names)
    return None if index is None else index_view(engine, names, index)


class LiveIndexCache:
    """The live index for readers, re-resolved at most every `ttl` seconds.

    After an alias swap, readers keep using the previous index (kept until the next rebuild)
    for at most `ttl`: consistent, never an error.
    """

    def __init__(self, engine: OpenSearch, names: IndexNames, ttl: float = 1.0) -> None:
        self.engine = engine
        self.names = names
        self.ttl = ttl
        self._value: LiveIndex | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def get(self) -> LiveIndex | None:
        now = time.monotonic()
        if self._value is not None and now - self._at < self.ttl:
            return self._value
        with self._lock:
            if self._value is None or time.monotonic() - self._at >= self.ttl:
                self._value = live_index(self.engine, self.names)
                self._at = time.monotonic()
            return self._value

    def invalidate(self) -> None:
        self._at = 0.0


def create_index(
    engine: OpenSearch, settings: Settings, names: IndexNames, version: int, schemas: SchemaSet, *, live: bool
) -> str:
    """Create `vN` from the template (updated first to these schemas).

    `live=True` (first install) also points the shared aliases at it; a rebuild target only
    gets its own per-version public alias until the swap.
    """
    engine.indices.put_index_template(name=names.template, body=template_body(settings, names, schemas))
    index = names.versioned(version)
    aliases: dict[str, Any] = {names.public_of(version): _public_alias_body()}
    if live:
        aliases[names.alias] = {"is_write_index": True}
        aliases[names.public_alias] = _public_alias_body()
    engine.indices.create(index=index, body={"aliases": aliases})
    return index


def swap_aliases(engine: OpenSearch, names: IndexNames, old: str | None, new: str) -> None:
    """One `_aliases` call: readers see the old index or the new one, never neither."""
    actions: list[dict[str, Any]] = []
    if old is not None:
        actions += [
            {"remove": {"index": old, "alias": names.alias}},
            {"remove": {"index": old, "alias": names.public_alias}},
        ]
    actions += [
        {"add": {"index": new, "alias": names.alias, "is_write_index": True}},
        {"add": {"index": new, "alias": names.public_alias, **_public_alias_body()}},
    ]
    engine.indices.update_aliases(body={"actions": actions})


def set_live_schemas(engine: OpenSearch, live: LiveIndex, schemas: SchemaSet) -> None:
    """Docs and defaults change no mapping: record them on the live index without a rebuild."""
    if schemas.fingerprint() != live.schemas.fingerprint():
        raise ValueError("these schemas need a rebuild, not a metadata update")
    meta = _index_meta(engine, live.name)
    meta.update({"schemas": schemas.as_json(), "fingerprint": schemas.fingerprint()})
    engine.indices.put_mapping(index=live.name, body={"_meta": meta})


def ensure_index(engine: OpenSearch, settings: Settings, names: IndexNames) -> LiveIndex:
    """Idempotent and safe to race: the API, every worker and every job call it at start-up."""
    current = live_index(engine, names)
    if current is not None:
        if current.layout != LAYOUT_VERSION:
            log.warning(
                "index %s has layout %s, this version writes %s: run a reindex",
                current.name,
                current.layout,
                LAYOUT_VERSION,
            )
        return current
    registry = schema_registry.load(engine, names)
    try:
        first = create_index(engine, settings, names, 1, registry.schemas, live=True)
        log.info("created index %s behind aliases %s, %s", first, names.alias, names.public_alias)
    except RequestError as exc:
        if "resource_already_exists" not in str(exc.error):
            raise
    current = live_index(engine, names)
    if current is None:
        raise RuntimeError(f"index {names.versioned(1)} exists but alias {names.alias} does not point at it")
    return current


def drop_all(engine: OpenSearch, names: IndexNames) -> None:
    """Delete every index of this prefix (tests and dev resets only)."""
    for pattern in (names.pattern, names.registry):
        found = engine.indices.get(index=pattern, params={"expand_wildcards": "all", "ignore_unavailable": "true"})
        for index in found:
            engine.indices.delete(index=index, params={"ignore_unavailable": "true"})
    engine.indices.delete_index_template(name=names.template, ignore=[404])
