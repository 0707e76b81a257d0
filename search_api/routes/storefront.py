"""The storefront search page (`/`, `/search`, `/storefront/*`) and the public list of search schemas
it builds its filter panel from (`GET /v1/api/search-schemas`).

The page is static package data (search_api/storefront_page/): HTML, CSS, plain JavaScript and a
vendored Leaflet, no build step and nothing fetched from a CDN, so `pip install .` is enough and
it works offline. It talks to the service only through the public API, exactly as a storefront
on another origin would, which is the point: what it shows, any storefront can do.

The schema list is public because a storefront needs to know which `pub_*`/`meta_*` filters exist
to draw them; the operator endpoint (`/v1/search-schemas`) also says more (defaults, generation,
index names) and needs the operator credential. Only the live index's schemas are listed: those
are the ones a query is parsed with, so a filter drawn from this list is never a 400, even while
a rebuild is bringing in a new key.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from schemas.search_schema import SchemaType, Scope, SearchSchema
from search_api.errors import ApiError
from search_api.routes.listings import live_or_503, search_deadline
from search_api.services import ServicesDep

PAGE_PACKAGE: Final = "search_api"
PAGE_DIR: Final = "storefront_page"

# Everything the page may load, with its type. A fixed list rather than a directory listing, so
# nothing else that ends up in the package folder is ever served.
_ASSETS: Final = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "vendor/leaflet/leaflet.js": "text/javascript; charset=utf-8",
    "vendor/leaflet/leaflet.css": "text/css; charset=utf-8",
    "vendor/leaflet/LICENSE": "text/plain; charset=utf-8",
}
_INDEX: Final = "index.html"

# The page loads nothing from elsewhere but map tiles. Leaflet styles elements through the CSSOM,
# which `style-src 'self'` allows, so no 'unsafe-inline' is needed.
_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data: https://tile.openstreetmap.org; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str
    etag: str


@functools.cache
def _asset(name: str, media_type: str) -> _Asset:
    """Read once per process: the files are part of the installed package and never change under it."""
    body = resources.files(PAGE_PACKAGE).joinpath(PAGE_DIR, *name.split("/")).read_bytes()
    return _Asset(body, media_type, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')


def _serve(request: Request, asset: _Asset, *, page: bool = False) -> Response:
    # `no-cache` means "revalidate", not "do not store": a reload costs a 304 per file, and an
    # upgraded service is picked up at once instead of after some max-age.
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if page:
        headers["Content-Security-Policy"] = _CSP
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


page_router = APIRouter(include_in_schema=False)


@page_router.api_route("/", methods=["GET", "HEAD"])
@page_router.api_route("/search", methods=["GET", "HEAD"])
def storefront_page(request: Request) -> Response:
    # One document for both paths: the page keeps its whole state in the query string, so `/search?…`
    # is what it pushes to the history and `/` is where a newcomer lands.
    return _serve(request, _asset(_INDEX, "text/html; charset=utf-8"), page=True)


@page_router.api_route("/storefront/{name:path}", methods=["GET", "HEAD"])
def storefront_asset(name: str, request: Request) -> Response:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise ApiError(404, f"no storefront file {name!r}", param="name", location="path")
    return _serve(request, _asset(name, media_type))


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
    # The same lookup, budget and 503s as a search: the list is what a search would parse with.
    live = live_or_503(services, search_deadline(services))
    return PublicSchemas(data=[_public(schema) for schema in live.schemas])


def _public(schema: SearchSchema) -> PublicSchema:
    return PublicSchema(
        key=schema.key, scope=schema.scope, type=schema.type, param=schema.param, label=schema.doc or words(schema.key)
    )


_WORD_START: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|_+")


def words(key: str) -> str:
    """`listingType` and `listing_type` read as "Listing type"."""
    parts = [p for p in _WORD_START.split(key) if p]
    text = " ".join(p if p.isupper() and len(p) > 1 else p.lower() for p in parts)
    return text[:1].upper() + text[1:]
