"""Public search, from a query string to the Flex-shaped answer: `query` (listings/query) and
`show` (listings/show). The routes call these and nothing else; only published, non-deleted
listings ever come out (the index's filtered alias, and the same filter in every query).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from indexer.index.live import LiveIndex
from indexer.services import Services
from infra.clients import Deadline
from schemas.index_layout import F, public_filter
from schemas.listing_doc import included_entities, public_resource
from search_api.errors import ApiError
from search_api.search.dsl import search_body
from search_api.search.engine_call import EngineSearch
from search_api.search.facets import facets_answer
from search_api.search.limits import QueryLimits
from search_api.search.parse import parse_listing_query, parse_show
from search_api.search.unavailable import as_503, live_now, search_deadline

# Only what an answer is made of: the engine skips the rest (`took`, `_shards`, `_index`,
# `_score`, `sort` of every hit), so less is sent and decoded (issue 17).
FILTER_PATH: Final = "hits.total.value,hits.hits._id,hits.hits._source,aggregations"

Items = list[tuple[str, str]]


@dataclass
class PublicSearch:
    """What public search needs, made once per API process: the clients, and the engine call that
    stays on the event loop (search_api/search/engine_call.py)."""

    services: Services
    engine: EngineSearch

    @classmethod
    def of(cls, services: Services) -> PublicSearch:
        return cls(services, EngineSearch.of(services.engine))


async def _search(search: PublicSearch, live: LiveIndex, body: dict[str, Any], deadline: Deadline) -> dict[str, Any]:
    # The index's own filtered alias: the schemas used to parse are the ones this index has.
    services = search.services
    try:
        result = await search.engine.search(
            live.public_alias(services.names), body, timeout=deadline.request_timeout(), filter_path=FILTER_PATH
        )
    except Exception as exc:
        unavailable = as_503(exc, deadline, services)
        if unavailable is None:
            raise
        raise unavailable from exc
    # filter_path drops `hits.hits` when nothing matched.
    result.setdefault("hits", {}).setdefault("hits", [])
    return result


async def query(search: PublicSearch, items: Items) -> dict[str, Any]:
    """`/v1/api/listings/query`: a page of listings, paging figures, and facets when asked."""
    services = search.services
    deadline = search_deadline(services)
    live = await live_now(services, deadline)
    limits = QueryLimits(services.settings.max_keywords_chars, services.settings.max_ids)
    q = parse_listing_query(items, live.schemas, limits)
    result = await _search(search, live, search_body(q), deadline)
    total = int(result["hits"]["total"]["value"])
    shape = q.shape
    data = [
        public_resource(
            hit["_id"], hit["_source"].get(F.SOURCE, {}), q.fields, include=shape.include, image_limit=shape.image_limit
        )
        for hit in result["hits"]["hits"]
    ]
    meta: dict[str, Any] = {
        "totalItems": total,
        "totalPages": math.ceil(total / q.per_page),
        "page": q.page,
        "perPage": q.per_page,
        "paginationLimit": q.pagination_limit,
    }
    if q.facets:
        meta["facets"] = facets_answer(q.facets, result.get("aggregations", {}), q.facet_limit)
    if shape.include is not None:
        return {"data": data, "included": included_entities(data), "meta": meta}
    return {"data": data, "meta": meta}


async def show(search: PublicSearch, items: Items) -> dict[str, Any]:
    """`/v1/api/listings/show`: one published listing, or a 404."""
    listing_id, fields, shape = parse_show(items)
    deadline = search_deadline(search.services)
    # The same filtered path as search, so visibility is decided in exactly one way.
    body = {
        "query": {"bool": {"filter": [*public_filter(), {"ids": {"values": [listing_id]}}]}},
        "size": 1,
        "_source": [f"{F.SOURCE}.listing"],
    }
    live = await live_now(search.services, deadline)
    hits = (await _search(search, live, body, deadline))["hits"]["hits"]
    if not hits:
        raise ApiError(404, f"no published listing with id {listing_id}", param="id")
    data = public_resource(
        listing_id, hits[0]["_source"].get(F.SOURCE, {}), fields, include=shape.include, image_limit=shape.image_limit
    )
    if shape.include is not None:
        return {"data": data, "included": included_entities([data])}
    return {"data": data}
