"""Reading a whole index a page at a time, for jobs that walk every document."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from opensearchpy import OpenSearch

from infra.failures import retry_transient
from schemas.index_layout import F


def pages_by_id(
    engine: OpenSearch,
    index: str,
    *,
    size: int,
    query: dict[str, Any] | None = None,
    source: list[str] | bool | None = None,
    version: bool = False,
    retry: str | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Hits in listing id order (search_after): no result window bounds it, and documents
    written meanwhile neither shift nor repeat a page. `retry` names the step for long jobs
    whose searches retry passing engine failures."""
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {"size": size, "sort": [{F.ID: {"order": "asc"}}], "query": query or {"match_all": {}}}
        if source is not None:
            body["_source"] = source
        if version:
            body["version"] = True
        if after is not None:
            body["search_after"] = after
        search = partial(engine.search, index=index, body=body)
        hits: list[dict[str, Any]] = (retry_transient(search, retry) if retry else search())["hits"]["hits"]
        if not hits:
            return
        yield hits
        after = hits[-1]["sort"]
