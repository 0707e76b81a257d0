"""Index lifecycle: the template, the first versioned index and its aliases.

Reads go through the aliases only, so a later rebuild can build `vN+1` and swap both aliases
in one `_aliases` call without readers noticing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError

from infra.settings import Settings
from schemas.index_layout import LAYOUT_VERSION, IndexNames, index_settings, mappings, public_filter

log = logging.getLogger(__name__)


def template_body(settings: Settings, names: IndexNames) -> dict[str, Any]:
    return {
        "index_patterns": [names.pattern],
        "priority": 200,
        "template": {
            "settings": index_settings(
                refresh_interval=settings.refresh_interval, shards=settings.shards, replicas=settings.replicas
            ),
            "mappings": mappings(),
        },
        "_meta": {"owner": "listing-search", "layout": LAYOUT_VERSION},
    }


def alias_actions(names: IndexNames, index: str) -> dict[str, Any]:
    """Both aliases for one index; the public one carries the visibility filter as a second lock."""
    return {
        names.alias: {"is_write_index": True},
        names.public_alias: {"filter": {"bool": {"filter": public_filter()}}},
    }


@dataclass(frozen=True)
class LiveIndex:
    name: str
    version: int


def live_index(client: OpenSearch, names: IndexNames) -> LiveIndex | None:
    try:
        found = client.indices.get_alias(name=names.alias)
    except NotFoundError:
        return None
    for index in sorted(found):
        version = names.version_of(index)
        if version is not None:
            return LiveIndex(index, version)
    return None


def ensure_index(client: OpenSearch, settings: Settings, names: IndexNames) -> LiveIndex:
    """Idempotent and safe to race: the API and every worker call it at start-up."""
    client.indices.put_index_template(name=names.template, body=template_body(settings, names))
    current = live_index(client, names)
    if current is not None:
        _warn_if_stale_layout(client, current)
        return current
    first = names.versioned(1)
    try:
        client.indices.create(index=first, body={"aliases": alias_actions(names, first)})
        log.info("created index %s behind aliases %s, %s", first, names.alias, names.public_alias)
    except RequestError as exc:
        if "resource_already_exists" not in str(exc.error):
            raise
    current = live_index(client, names)
    if current is None:
        raise RuntimeError(f"index {first} exists but alias {names.alias} does not point at it")
    return current


def _warn_if_stale_layout(client: OpenSearch, live: LiveIndex) -> None:
    found = client.indices.get_mapping(index=live.name)
    meta = found.get(live.name, {}).get("mappings", {}).get("_meta", {})
    if meta.get("layout") != LAYOUT_VERSION:
        log.warning(
            "index %s has layout %s, this version writes layout %s: run a reindex",
            live.name,
            meta.get("layout"),
            LAYOUT_VERSION,
        )


def drop_all(client: OpenSearch, names: IndexNames) -> None:
    """Delete every index of this prefix (tests and dev resets only)."""
    found = client.indices.get(index=names.pattern, params={"expand_wildcards": "all"})
    for index in found:
        client.indices.delete(index=index, params={"ignore_unavailable": "true"})
    client.indices.delete_index_template(name=names.template, ignore=[404])
