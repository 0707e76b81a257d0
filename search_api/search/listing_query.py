"""A public listing search, parsed: what `parse_listing_query` makes of the query string and
what `dsl.search_body` turns into the engine's query. Plain data, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.availability import AvailabilityQuery
from schemas.index_layout import MAX_RESULT_WINDOW
from schemas.search_schema import SearchSchema
from search_api.search.limits import DEFAULT_FACET_LIMIT, DEFAULT_PER_PAGE


@dataclass(frozen=True)
class ResponseShape:
    """What `include` and `limit.images` ask of each listing; `include` None = not given."""

    include: frozenset[str] | None = None
    image_limit: int | None = None


@dataclass(frozen=True)
class RangeFilter:
    exact: int | None = None
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class SortKey:
    key: str
    ascending: bool
    schema: SearchSchema | None = None


@dataclass(frozen=True)
class GeoPoint:
    lat: float
    lng: float


@dataclass(frozen=True)
class GeoBox:
    ne: GeoPoint
    sw: GeoPoint


@dataclass(frozen=True)
class StockFilter:
    min_stock: int
    match_undefined: bool


@dataclass(frozen=True)
class ExtendedFilter:
    """One `pub_<key>`/`meta_<key>` filter. `mode`: any (enum, has_any), all (has_all), bool, range."""

    schema: SearchSchema
    mode: str
    values: tuple[str | bool, ...] = ()
    range: RangeFilter | None = None


@dataclass(frozen=True)
class Facet:
    """One requested facet: `price` (schema None) or a non-text search schema."""

    key: str
    schema: SearchSchema | None = None

    @property
    def is_range(self) -> bool:
        return self.schema is None or self.schema.type == "long"


@dataclass(frozen=True)
class ListingQuery:
    keywords: str | None = None
    price: RangeFilter | None = None
    ids: tuple[str, ...] | None = None
    author_id: str | None = None
    sort: tuple[SortKey, ...] = ()
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    fields: tuple[str, ...] | None = None
    shape: ResponseShape = ResponseShape()
    extended: tuple[ExtendedFilter, ...] = ()
    text_schemas: tuple[SearchSchema, ...] = ()
    origin: GeoPoint | None = None
    bounds: GeoBox | None = None
    availability: AvailabilityQuery | None = None
    stock: StockFilter | None = None
    facets: tuple[Facet, ...] = ()
    facet_limit: int = DEFAULT_FACET_LIMIT

    @property
    def pagination_limit(self) -> int:
        return pagination_limit(self.per_page)


def pagination_limit(per_page: int) -> int:
    return max(1, MAX_RESULT_WINDOW // per_page)
