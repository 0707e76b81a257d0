"""Public search: `/v1/api/listings/query` and `/v1/api/listings/show`. Only published listings."""

from __future__ import annotations

import logging
import math
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from opensearchpy.exceptions import ConnectionError as EngineConnectionError
from opensearchpy.exceptions import ConnectionTimeout, NotFoundError, TransportError
from starlette.concurrency import run_in_threadpool

from indexer.index_admin import LiveIndex
from infra.clients import Deadline
from schemas.index_layout import F, public_filter
from schemas.listing_doc import included_entities, public_resource
from search_api.engine_search import EngineSearch
from search_api.errors import ApiError
from search_api.facets import facets_answer
from search_api.listing_params import QueryLimits, openapi_parameters, parse_listing_query, parse_show
from search_api.listing_query import search_body
from search_api.rate_limit import rate_limited
from search_api.services import Services, ServicesDep

log = logging.getLogger(__name__)
# No FastAPI dependencies on these two routes: resolving them cost about 20 us a search (issue 17,
# measured in-process), so each route reads its services and runs the rate limit itself, first.
router = APIRouter(prefix="/v1/api/listings", tags=["public search"])

_LISTING_EXAMPLE = {
    "id": "7a3b1c6e-9a2f-4e8b-8f3d-2f5c9e1a0b4d",
    "type": "listing",
    "attributes": {
        "title": "Sunny room near the park",
        "description": "...",
        "geolocation": {"lat": 42.65, "lng": -73.75},
        "price": {"amount": 12500, "currency": "USD"},
        "publicData": {"listingType": "Private room"},
        "metadata": {},
        "state": "published",
        "deleted": False,
        "createdAt": "2024-06-22T10:00:00.000Z",
        "availabilityPlan": {"type": "availability-plan/day", "entries": []},
    },
    "relationships": {"author": {"data": {"id": "0b1f3c1e-5f0a-4c38-9a85-1c2d3e4f5a6b", "type": "user"}}},
}
_ERROR_RESPONSE = {"description": "Invalid parameter; `errors[0].source.path` names it"}
_UNAVAILABLE_RESPONSE = {
    "description": "The search engine did not answer within `LISTING_SEARCH_SEARCH_TIMEOUT_SECONDS`, is "
    "unreachable or overloaded, or there is no index to search (not yet, or no longer); `Retry-After` says "
    "when to try again",
    "headers": {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}},
}
_RETRY = {"Retry-After": "2"}
# Only what an answer is made of: the engine skips the rest (`took`, `_shards`, `_index`,
# `_score`, `sort` of every hit), so less is sent and decoded (issue 17).
_FILTER_PATH = "hits.total.value,hits.hits._id,hits.hits._source,aggregations"


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def search_deadline(services: ServicesDep) -> Deadline:
    """One budget per request for the live-index lookup and the search together: a hung engine costs
    the storefront `search_timeout_seconds`, not that twice over and not the engine client's 30 s."""
    return Deadline(services.settings.search_timeout_seconds)


def _unreachable(exc: EngineConnectionError, deadline: Deadline) -> ApiError:
    # ConnectionTimeout is a ConnectionError: a read that timed out, or the budget spent before the call.
    if isinstance(exc, ConnectionTimeout):
        details = f"the search engine did not answer within {deadline.seconds:g} s; retry shortly"
    else:
        details = "the search engine is unreachable; retry shortly"
    return ApiError(503, details, headers=_RETRY)


def live_or_503(services: ServicesDep, deadline: Deadline) -> LiveIndex:
    """The live index, or the 503 (with Retry-After) that says why there is none to search."""
    try:
        live = services.live.get(deadline)
    except EngineConnectionError as exc:
        raise _unreachable(exc, deadline) from exc
    except TransportError as exc:
        raise ApiError(503, "the search engine is unreachable; retry shortly", headers=_RETRY) from exc
    if live is None:
        raise ApiError(503, "the index does not exist yet; retry shortly", headers=_RETRY)
    return live


async def _live_now(services: ServicesDep, deadline: Deadline) -> LiveIndex:
    """The live index without leaving the event loop while it is cached (all but one request a
    second); a resolution, which may wait on the engine, goes to the thread pool, and so does
    the rare answer "no index yet", which `live_or_503` turns into its 503."""
    fresh, live = services.live.cached()
    if fresh and live is not None:
        return live
    return await run_in_threadpool(live_or_503, services, deadline)


async def _search(
    request: Request, services: ServicesDep, live: LiveIndex, body: dict[str, Any], deadline: Deadline
) -> dict[str, Any]:
    # The index's own filtered alias: the schemas used to parse are the ones this index has.
    engine: EngineSearch = request.app.state.engine_search
    try:
        result = await engine.search(
            live.public_alias(services.names), body, timeout=deadline.request_timeout(), filter_path=_FILTER_PATH
        )
        # filter_path drops `hits.hits` when nothing matched.
        result.setdefault("hits", {}).setdefault("hits", [])
        return result
    except EngineConnectionError as exc:
        raise _unreachable(exc, deadline) from exc
    except NotFoundError as exc:
        # The index the cached live index names was deleted under it (an operator's delete, or a
        # rebuild's clean-up within the cache's ttl): nothing a storefront did wrong, and the
        # next request resolves the live index afresh.
        services.live.invalidate()
        raise ApiError(503, "the index being searched no longer exists; retry shortly", headers=_RETRY) from exc
    except TransportError as exc:
        if exc.status_code == 429 or (isinstance(exc.status_code, int) and exc.status_code >= 500):
            raise ApiError(503, "the search engine is overloaded; retry shortly", headers=_RETRY) from exc
        raise


@router.get(
    "/query",
    summary="Search published listings",
    description="Flex-compatible listing search. All filters combine with AND. Only published, "
    "non-deleted listings are ever returned; `privateData` never is.\n\n"
    "Besides the parameters below, each search schema adds `pub_<key>` (publicData) or `meta_<key>` "
    "(metadata), by type: `enum` `a` or `a,b` (any of); `multi-enum` `has_all:a,b` (also plain `a,b`) or "
    "`has_any:a,b`; `boolean` `true`/`false`; `long` `v`, `min,max`, `min,`, `,max` (min inclusive, max "
    "exclusive). A listing lacking the key is treated as having the schema's default. `pub_listingType` "
    "exists on every install. A key with no schema is a 400.\n\n"
    "`meta.facets` is present only with `facets` (example: `facets=pub_listingType,price`): per key, "
    "`{values: [{value, count}], otherValues}` for `enum`/`multi-enum`/`boolean` keys (value with its JSON "
    "type) or `{min, max, count}` for `price`/`long` keys (`min`/`max` null when no listing has a value). "
    "See the `facets` parameter for which listings are counted.",
    openapi_extra={
        "parameters": openapi_parameters(),
        "responses": {
            "200": {
                "content": {
                    "application/json": {
                        "example": {
                            "data": [_LISTING_EXAMPLE],
                            "meta": {
                                "totalItems": 1,
                                "totalPages": 1,
                                "page": 1,
                                "perPage": 100,
                                "paginationLimit": 100,
                                "facets": {
                                    "pub_listingType": {
                                        "values": [{"value": "Private room", "count": 1}],
                                        "otherValues": 0,
                                    },
                                    "price": {"min": 12500, "max": 12500, "count": 1},
                                },
                            },
                        }
                    }
                }
            },
            "400": _ERROR_RESPONSE,
            "503": _UNAVAILABLE_RESPONSE,
        },
    },
)
async def query_listings(request: Request) -> Response:
    await rate_limited(request)
    services: Services = request.app.state.services
    deadline = search_deadline(services)
    live = await _live_now(services, deadline)
    limits = QueryLimits(services.settings.max_keywords_chars, services.settings.max_ids)
    q = parse_listing_query(request.query_params.multi_items(), live.schemas, limits)
    result = await _search(request, services, live, search_body(q), deadline)
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
        return _json({"data": data, "included": included_entities(data), "meta": meta})
    return _json({"data": data, "meta": meta})


@router.get(
    "/show",
    summary="One published listing",
    description="Returns the listing if it is published and not deleted; 404 otherwise.",
    openapi_extra={
        "parameters": [
            {
                "name": "id",
                "in": "query",
                "required": True,
                "schema": {"type": "string", "format": "uuid"},
                "description": "Listing UUID.",
            },
            *[p for p in openapi_parameters() if p["name"] in ("fields.listing", "include", "limit.images")],
        ],
        "responses": {
            "200": {"content": {"application/json": {"example": {"data": _LISTING_EXAMPLE}}}},
            "400": _ERROR_RESPONSE,
            "404": {"description": "No published listing with this id"},
            "503": _UNAVAILABLE_RESPONSE,
        },
    },
)
async def show_listing(request: Request) -> Response:
    await rate_limited(request)
    services: Services = request.app.state.services
    listing_id, fields, shape = parse_show(request.query_params.multi_items())
    deadline = search_deadline(services)
    # The same filtered path as search, so visibility is decided in exactly one way.
    body = {
        "query": {"bool": {"filter": [*public_filter(), {"ids": {"values": [listing_id]}}]}},
        "size": 1,
        "_source": [f"{F.SOURCE}.listing"],
    }
    hits = (await _search(request, services, await _live_now(services, deadline), body, deadline))["hits"]["hits"]
    if not hits:
        raise ApiError(404, f"no published listing with id {listing_id}", param="id")
    data = public_resource(
        listing_id, hits[0]["_source"].get(F.SOURCE, {}), fields, include=shape.include, image_limit=shape.image_limit
    )
    if shape.include is not None:
        return _json({"data": data, "included": included_entities([data])})
    return _json({"data": data})
