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
from opensearchpy.exceptions import ConnectionTimeout, NotFoundError, OpenSearchException, RequestError

from indexer import schema_registry
from infra.clients import Deadline, engine_failure_reason, request_options
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


def _index_meta(engine: OpenSearch, index: str, deadline: Deadline | None = None) -> dict[str, Any]:
    found = engine.indices.get_mapping(index=index, **request_options(deadline))
    meta: dict[str, Any] = found.get(index, {}).get("mappings", {}).get("_meta", {}) or {}
    return meta


def live_index_name(engine: OpenSearch, names: IndexNames, deadline: Deadline | None = None) -> str | None:
    try:
        found = engine.indices.get_alias(name=names.alias, **request_options(deadline))
    except NotFoundError:
        return None
    return next((index for index in sorted(found) if names.version_of(index) is not None), None)


def index_view(engine: OpenSearch, names: IndexNames, index: str, deadline: Deadline | None = None) -> LiveIndex:
    meta = _index_meta(engine, index, deadline)
    version = names.version_of(index)
    if version is None:
        raise ValueError(f"{index} is not a versioned index of {names.prefix}")
    return LiveIndex(index, version, SchemaSet.from_json(meta.get("schemas", [])), meta.get("layout"))


def live_index(engine: OpenSearch, names: IndexNames, deadline: Deadline | None = None) -> LiveIndex | None:
    """Two engine calls (alias, then mapping); with a `deadline`, both together stay within it."""
    index = live_index_name(engine, names, deadline)
    return None if index is None else index_view(engine, names, index, deadline)


class LiveIndexCache:
    """The live index for readers, re-resolved at most every `ttl` seconds.

    After an alias swap, readers keep using the previous index (kept until the next rebuild)
    for at most `ttl`: consistent, never an error.

    With a `deadline` (public search), a sick engine never makes readers queue behind one
    resolution that hangs, and never turns a working search into an error:

    - a reader that finds a resolution already under way takes the last known value at once;
    - a resolution that fails or times out keeps the last known value for another `ttl`
      (logged). That value is almost always still right: aliases move only at a rebuild's swap,
      and the index they left is kept until the next rebuild. If the engine really is away, the
      search that follows fails on its own, within what is left of the same deadline;
    - only with nothing known yet (a cold start) does a failure reach the reader, and readers
      waiting for that first resolution give up when their own deadline passes.
    """

    def __init__(self, engine: OpenSearch, names: IndexNames, ttl: float = 1.0) -> None:
        self.engine = engine
        self.names = names
        self.ttl = ttl
        self._value: LiveIndex | None = None
        self._known = False  # `_value` None is a real answer too: no index yet
        self._at = 0.0
        self._lock = threading.Lock()

    def _fresh(self) -> bool:
        return self._known and time.monotonic() - self._at < self.ttl

    def cached(self) -> tuple[bool, LiveIndex | None]:
        """(True, value) while the last resolution is fresh: what `get` would answer, without any
        chance of an engine call, so an event loop may ask it."""
        value, known, at = self._value, self._known, self._at
        return (known and time.monotonic() - at < self.ttl), value

    def get(self, deadline: Deadline | None = None) -> LiveIndex | None:
        if self._fresh():
            return self._value
        if deadline is None:
            with self._lock:
                return self._value if self._fresh() else self._resolve(None)
        if self._known:
            if not self._lock.acquire(blocking=False):
                return self._value
        elif not self._lock.acquire(timeout=max(deadline.remaining(), 0.0)):
            raise ConnectionTimeout("TIMEOUT", "another request is still resolving the live index", None)
        try:
            if self._fresh():
                return self._value
            try:
                return self._resolve(deadline)
            except OpenSearchException as exc:
                if not self._known:
                    raise
                log.warning(
                    "could not resolve the live index (%s); serving the last known one (%s) for %g s",
                    engine_failure_reason(exc, deadline),
                    self._value.name if self._value is not None else "none",
                    self.ttl,
                )
                self._at = time.monotonic()
                return self._value
        finally:
            self._lock.release()

    def _resolve(self, deadline: Deadline | None) -> LiveIndex | None:
        """Called with the lock held."""
        self._value = live_index(self.engine, self.names, deadline)
        self._known = True
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
