"""Public search routes: `/v1/api/listings/query` and `/v1/api/listings/show` (search_api/search/listings.py
does the work), with their OpenAPI documentation."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from search_api.edge.rate_limit import rate_limited
from search_api.search import listings
from search_api.search.param_docs import openapi_parameters

# No FastAPI dependencies on these two routes: resolving them cost about 20 us a search (issue 17,
# measured in-process), so each route reads its app state and runs the rate limit itself, first.
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


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


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
    return _json(await listings.query(request.app.state.public_search, request.query_params.multi_items()))


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
    return _json(await listings.show(request.app.state.public_search, request.query_params.multi_items()))
