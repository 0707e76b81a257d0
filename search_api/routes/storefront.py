"""The storefront search page (`/`, `/search`, `/storefront/*`) and the public list of search schemas
it builds its filter panel from (`GET /v1/api/search-schemas`).

The page is static package data (search_api/pages/storefront/, served by search_api/pages/serve.py):
HTML, CSS, plain JavaScript and a vendored Leaflet, no build step and nothing fetched from a CDN.
It talks to the service only through the public API, exactly as a storefront on another origin
would, which is the point: what it shows, any storefront can do.

The schema list is public because a storefront needs to know which `pub_*`/`meta_*` filters exist
to draw them; the operator endpoint (`/v1/search-schemas`) also says more (defaults, generation,
index names) and needs the operator credential. Only the live index's schemas are listed: those
are the ones a query is parsed with, so a filter drawn from this list is never a 400, even while
a rebuild is bringing in a new key.
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from schemas.search_schema import SchemaType, Scope
from search_api.pages.serve import StaticPage
from search_api.search.public_schemas import public_schemas
from search_api.services import ServicesDep

# The page loads nothing from elsewhere but map tiles. Leaflet styles elements through the CSSOM,
# which `style-src 'self'` allows, so no 'unsafe-inline' is needed.
STOREFRONT: Final = StaticPage(
    folder="storefront",
    assets={
        "app.js": "text/javascript; charset=utf-8",
        "style.css": "text/css; charset=utf-8",
        "vendor/leaflet/leaflet.js": "text/javascript; charset=utf-8",
        "vendor/leaflet/leaflet.css": "text/css; charset=utf-8",
        "vendor/leaflet/LICENSE": "text/plain; charset=utf-8",
    },
    csp=(
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data: https://tile.openstreetmap.org; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
    ),
)

page_router = APIRouter(include_in_schema=False)


@page_router.api_route("/", methods=["GET", "HEAD"])
@page_router.api_route("/search", methods=["GET", "HEAD"])
def storefront_page(request: Request) -> Response:
    # One document for both paths: the page keeps its whole state in the query string, so `/search?…`
    # is what it pushes to the history and `/` is where a newcomer lands.
    return STOREFRONT.page(request)


@page_router.api_route("/storefront/{name:path}", methods=["GET", "HEAD"])
def storefront_asset(name: str, request: Request) -> Response:
    return STOREFRONT.asset(request, name)


class PublicSchema(BaseModel):
    key: str
    scope: Scope
    type: SchemaType
    param: str
    label: str


class PublicSchemas(BaseModel):
    data: list[PublicSchema]


api_router = APIRouter(prefix="/v1/api", tags=["public search"])


@api_router.get(
    "/search-schemas",
    summary="Search schemas a storefront can filter by",
    description="The `pub_<key>`/`meta_<key>` filters the search accepts right now (those of the live index), "
    "for drawing a filter panel: `key`, `scope` (`public` = publicData, `metadata`), `type` (`enum`, "
    "`multi-enum`, `boolean`, `long`, `text`), `param` (the query parameter) and `label` (the schema's "
    "`doc`, else the key in words). Values and their counts come from `facets` on the query. Defaults "
    "and everything else the operator endpoint shows stay private.",
    response_model=PublicSchemas,
    responses={
        503: {
            "description": "The search engine did not answer in time or the index does not exist yet",
            "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
        }
    },
)
def public_search_schemas(services: ServicesDep) -> PublicSchemas:
    return PublicSchemas(data=[PublicSchema(**item) for item in public_schemas(services)])
