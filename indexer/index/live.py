"""The live index: which versioned index the alias points at, with the schemas that index was
built with, resolved together so a reader never pairs one index with another's schemas.

`LiveIndexCache` is what public search and the API use: a resolution at most every second, and
a sick engine never makes readers queue behind one that hangs.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionTimeout, NotFoundError, OpenSearchException

from infra.clients import Deadline, request_options
from infra.engine_connection import connection_of
from infra.failures import engine_failure_reason
from schemas.index_layout import IndexNames
from schemas.search_schema import SchemaSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveIndex:
    name: str
    version: int
    schemas: SchemaSet
    layout: int | None

    def public_alias(self, names: IndexNames) -> str:
        return names.public_of(self.version)


def index_meta(engine: OpenSearch, index: str, deadline: Deadline | None = None) -> dict[str, Any]:
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
    meta = index_meta(engine, index, deadline)
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
                    engine_failure_reason(exc, deadline, connection_of(self.engine)),
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
