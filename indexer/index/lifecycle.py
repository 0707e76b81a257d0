"""Index lifecycle: the template, versioned indices and their aliases.

A rebuild builds `vN+1` and moves every alias in one `_aliases` call; `ensure_index` makes the
first one. Which index is live, and with which schemas, is `indexer.index.live`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import RequestError

from indexer.index import schema_registry
from indexer.index.live import LiveIndex, index_meta, live_index
from infra.engine_connection import connection_of
from infra.failures import Backoff, configuration_failure, engine_failure_reason, transient
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
    meta = index_meta(engine, live.name)
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


# A start-up that cannot reach the engine tries again at most this often.
START_RETRY_MAX_SECONDS = 30.0


def ensure_index_when_ready(
    engine: OpenSearch, settings: Settings, names: IndexNames, stop: threading.Event
) -> LiveIndex | None:
    """`ensure_index`, tried again while the engine is away or refuses this connection (wrong
    credentials, a certificate that does not verify): one log line per failed attempt says what to
    fix, until it works or `stop` is set (then None). Any other failure (a refused template) is
    raised: that is a bug, not a setting."""
    backoff = Backoff(START_RETRY_MAX_SECONDS)
    connection = connection_of(engine)
    where = connection.display_url() if connection is not None else "the engine"
    while not stop.is_set():
        try:
            return ensure_index(engine, settings, names)
        except Exception as exc:
            if not (transient(exc) or configuration_failure(exc)):
                raise
            delay = backoff.next()
            reason = engine_failure_reason(exc, connection=connection)
            log.warning("cannot prepare the index at %s yet: %s; trying again in %.1f s", where, reason, delay)
        stop.wait(delay)
    return None


def wait_for_engine(engine: OpenSearch, names: IndexNames, stop: threading.Event) -> bool:
    """Until the engine answers (a look at the alias, which the service's role must be allowed), with
    one log line per failed attempt; False if `stop` was set first."""
    backoff = Backoff(START_RETRY_MAX_SECONDS)
    connection = connection_of(engine)
    where = connection.display_url() if connection is not None else "the engine"
    while not stop.is_set():
        try:
            engine.indices.exists_alias(name=names.alias)
            return True
        except Exception as exc:
            if not (transient(exc) or configuration_failure(exc)):
                raise
            delay = backoff.next()
            log.warning(
                "cannot reach %s yet: %s; trying again in %.1f s",
                where,
                engine_failure_reason(exc, connection=connection),
                delay,
            )
        stop.wait(delay)
    return False
