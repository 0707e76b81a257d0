"""`/v1/api/listings/query` and `/show` parameters, parsed into a `ListingQuery`.

Parsing is strict: every mistake is a 400 naming the parameter, never a silently ignored value.
Flex SDK parameters that do not change which listings match (`include`, `fields.image`,
`imageVariant.*`, ...) are accepted and ignored so existing storefronts work unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from schemas.availability import MODES, AvailabilityQuery, horizon, to_minutes, utc_today
from schemas.listing_doc import PUBLIC_ATTRIBUTES
from schemas.search_schema import SchemaSet, SearchSchema
from schemas.values import canonical_uuid
from search_api.errors import invalid_param
from search_api.search.limits import (
    DEFAULT_FACET_LIMIT,
    DEFAULT_PER_PAGE,
    MAX_FACET_LIMIT,
    MAX_FACETS,
    MAX_FILTER_VALUES,
    MAX_KEYWORD_WORDS,
    MAX_PER_PAGE,
    MAX_SORT_KEYS,
    MAX_WINDOW_DAYS,
    SORT_KEYS,
    QueryLimits,
)
from search_api.search.listing_query import (
    ExtendedFilter,
    Facet,
    GeoBox,
    GeoPoint,
    ListingQuery,
    RangeFilter,
    ResponseShape,
    SortKey,
    StockFilter,
    pagination_limit,
)
from search_api.search.param_docs import KNOWN

# Flex's `cursor` paging: refused clearly rather than ignored.
NOT_SUPPORTED: Final = frozenset({"cursor"})

_IGNORED_PREFIXES: Final = ("fields.", "imageVariant.", "limit.")
_IGNORED: Final = frozenset({"include"})
# Relationships `include` may name: the Web Template asks for these on search and listing pages.
# `author` and `images` are filled with the ids the index holds; profiles, profile images and
# stock live in Flex, so the others are accepted and left out (see docs/storefront.md).
INCLUDABLE: Final = ("author", "images", "author.profileImage", "currentStock")


def _shape(values: dict[str, str]) -> ResponseShape:
    include: frozenset[str] | None = None
    if "include" in values:
        names = [n.strip() for n in values["include"].split(",") if n.strip()]
        for name in names:
            if name not in INCLUDABLE:
                raise invalid_param("include", f"unknown relationship {name!r}; use any of {', '.join(INCLUDABLE)}")
        # JSON:API (which Flex follows): a path such as `author.profileImage` brings every
        # resource on the way, so it includes `author` too.
        include = frozenset(".".join(n.split(".")[:i]) for n in names for i in range(1, n.count(".") + 2))
    limit = _int("limit.images", values["limit.images"], minimum=0) if "limit.images" in values else None
    return ResponseShape(include, limit)


def _single(items: list[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in items:
        if name in values:
            raise invalid_param(name, "given more than once")
        values[name] = value
    return values


def _int(name: str, raw: str, *, minimum: int, maximum: int | None = None) -> int:
    text = raw.strip()
    # isascii: str.isdigit() also accepts "²" and other digits int() refuses.
    digits = text[1:] if text[:1] == "-" else text
    if not digits or not digits.isascii() or not digits.isdigit() or len(text) > 18:
        raise invalid_param(name, f"{raw!r} is not an integer")
    value = int(text)
    if value < minimum:
        raise invalid_param(name, f"must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise invalid_param(name, f"must be at most {maximum}")
    return value


def parse_range(name: str, raw: str, *, minimum: int | None = 0) -> RangeFilter:
    """`v`, `min,max`, `min,` or `,max` of integers (non-negative for price); min < max."""
    low = -(2**63) if minimum is None else minimum
    parts = raw.split(",")
    if len(parts) == 1:
        return RangeFilter(exact=_int(name, parts[0], minimum=low))
    if len(parts) != 2:
        raise invalid_param(name, "expected a value, or min,max with either side optional")
    lo_raw, hi_raw = (p.strip() for p in parts)
    if not lo_raw and not hi_raw:
        raise invalid_param(name, "give a min, a max or both")
    lo = _int(name, lo_raw, minimum=low) if lo_raw else None
    hi = _int(name, hi_raw, minimum=low) if hi_raw else None
    if lo is not None and hi is not None and hi <= lo:
        raise invalid_param(name, "max must be greater than min")
    return RangeFilter(min=lo, max=hi)


def _uuid(name: str, raw: str) -> str:
    try:
        return canonical_uuid(raw.strip())
    except ValueError:
        raise invalid_param(name, f"{raw.strip()!r} is not a valid UUID") from None


def _ids(raw: str, max_ids: int) -> tuple[str, ...]:
    parts = [p for p in raw.split(",") if p.strip()]
    if not parts:
        raise invalid_param("ids", "give at least one UUID")
    if len(parts) > max_ids:
        raise invalid_param("ids", f"at most {max_ids} ids, got {len(parts)}")
    return tuple(dict.fromkeys(_uuid("ids", p) for p in parts))


def _sort(raw: str, schemas: SchemaSet) -> tuple[SortKey, ...]:
    parts = [p.strip() for p in raw.split(",")]
    if not raw.strip() or any(not p for p in parts):
        raise invalid_param("sort", "empty sort key")
    if len(parts) > MAX_SORT_KEYS:
        raise invalid_param("sort", f"at most {MAX_SORT_KEYS} sort keys, got {len(parts)}")
    out: list[SortKey] = []
    for part in parts:
        ascending = part.startswith("-")
        key = part[1:] if ascending else part
        schema = schemas.get(key)
        if key not in SORT_KEYS and (schema is None or schema.type != "long"):
            longs = [s.param for s in schemas.of_type("long")]
            raise invalid_param("sort", f"unknown sort key {key!r}; use one of {', '.join([*SORT_KEYS, *longs])}")
        if any(s.key == key for s in out):
            raise invalid_param("sort", f"sort key {key!r} given twice")
        out.append(SortKey(key, ascending, schema))
    return tuple(out)


def _fields(raw: str) -> tuple[str, ...]:
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if not names:
        raise invalid_param("fields.listing", "give at least one attribute name")
    for name in names:
        head, dot, key = name.partition(".")
        if head == "privateData":
            raise invalid_param("fields.listing", "privateData is never public")
        if head not in PUBLIC_ATTRIBUTES or (dot and (head not in ("publicData", "metadata") or not key)):
            raise invalid_param("fields.listing", f"unknown attribute {name!r}")
    return tuple(dict.fromkeys(names))


def _floats(name: str, raw: str, count: int) -> list[float]:
    parts = raw.split(",")
    if len(parts) != count:
        raise invalid_param(name, f"expected {count} comma-separated numbers")
    out = []
    for part in parts:
        try:
            value = float(part.strip())
        except ValueError:
            raise invalid_param(name, f"{part.strip()!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise invalid_param(name, "coordinates must be finite numbers")
        out.append(value)
    return out


def _point(name: str, lat: float, lng: float) -> GeoPoint:
    if not -90 <= lat <= 90:
        raise invalid_param(name, f"latitude {lat} is outside -90..90")
    if not -180 <= lng <= 180:
        raise invalid_param(name, f"longitude {lng} is outside -180..180")
    return GeoPoint(lat, lng)


def _origin(raw: str) -> GeoPoint:
    lat, lng = _floats("origin", raw, 2)
    return _point("origin", lat, lng)


def _bounds(raw: str) -> GeoBox:
    ne_lat, ne_lng, sw_lat, sw_lng = _floats("bounds", raw, 4)
    box = GeoBox(_point("bounds", ne_lat, ne_lng), _point("bounds", sw_lat, sw_lng))
    if ne_lat < sw_lat:
        raise invalid_param("bounds", "the north-east latitude is south of the south-west one")
    return box


def _instant(name: str, raw: str) -> datetime:
    text = raw.strip()
    try:
        if len(text) == 10:
            value = datetime.fromisoformat(text).replace(tzinfo=UTC)
        else:
            value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise invalid_param(name, f"{text!r} is not an ISO-8601 timestamp") from None
    if value.tzinfo is None:
        raise invalid_param(name, "give a timezone offset (or Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 has no UTC form
        raise invalid_param(name, f"{text!r} is out of range") from None


def _availability(values: dict[str, str]) -> AvailabilityQuery | None:
    given = [n for n in ("start", "end", "availability", "seats", "minDuration") if n in values]
    if not given:
        return None
    for name in ("start", "end"):
        if name not in values:
            raise invalid_param(name, "required with " + ", ".join(n for n in given if n != name))
    start, end = _instant("start", values["start"]), _instant("end", values["end"])
    if end <= start:
        raise invalid_param("end", "must be after start")
    if end - start > timedelta(days=MAX_WINDOW_DAYS):
        raise invalid_param("end", f"the window is at most {MAX_WINDOW_DAYS} days")
    h0, h1 = horizon(utc_today())
    if to_minutes(start) < h0:
        raise invalid_param("start", "must not be before today (00:00 UTC)")
    if to_minutes(end) > h1:
        raise invalid_param("end", "must not be later than today + 365 days")
    mode = values.get("availability", "day-full").strip()
    if mode not in MODES:
        raise invalid_param("availability", f"one of {', '.join(MODES)}")
    seats = _int("seats", values["seats"], minimum=1, maximum=10_000) if "seats" in values else 1
    if "minDuration" in values and not mode.endswith("partial"):
        raise invalid_param("minDuration", "only with availability=day-partial or time-partial")
    duration = _int("minDuration", values["minDuration"], minimum=0, maximum=10**7) if "minDuration" in values else 0
    minutes = duration * 1440 if mode.startswith("day") else duration
    q = AvailabilityQuery(mode, to_minutes(start), to_minutes(end), seats, minutes)
    if q.partial and q.window[1] - q.window[0] < q.needed:
        raise invalid_param("minDuration", "longer than the start..end window")
    return q


def _stock(values: dict[str, str]) -> StockFilter | None:
    if "minStock" not in values:
        if "stockMode" in values:
            raise invalid_param("stockMode", "only with minStock")
        return None
    mode = values.get("stockMode", "strict").strip()
    if mode not in ("strict", "match-undefined"):
        raise invalid_param("stockMode", "strict or match-undefined")
    return StockFilter(_int("minStock", values["minStock"], minimum=0), mode == "match-undefined")


def _facets(raw: str, schemas: SchemaSet) -> tuple[Facet, ...]:
    parts = [p.strip() for p in raw.split(",")]
    if not raw.strip() or any(not p for p in parts):
        raise invalid_param("facets", "empty facet key")
    keys = tuple(dict.fromkeys(parts))
    if len(keys) > MAX_FACETS:
        raise invalid_param("facets", f"at most {MAX_FACETS} keys, got {len(keys)}")
    out: list[Facet] = []
    for key in keys:
        if key == "price":
            out.append(Facet(key))
            continue
        schema = schemas.get(key) if key.startswith(("pub_", "meta_")) else None
        if schema is None:
            hint = "use price, pub_<key> or meta_<key>"
            raise invalid_param("facets", f"no search schema is defined for {key!r}; {hint}")
        if schema.type == "text":
            raise invalid_param("facets", f"{key!r} is a text schema; text is searched with keywords, not faceted")
        out.append(Facet(key, schema))
    return tuple(out)


def _extended(schema: SearchSchema, raw: str) -> ExtendedFilter:
    name = schema.param
    text = raw.strip()
    if schema.type == "text":
        raise invalid_param(name, "text schemas are not filters; they are searched with keywords")
    if schema.type == "boolean":
        if text not in ("true", "false"):
            raise invalid_param(name, "must be true or false")
        return ExtendedFilter(schema, "bool", (text == "true",))
    if schema.type == "long":
        return ExtendedFilter(schema, "range", range=parse_range(name, text, minimum=None))
    mode = "any"
    if schema.type == "multi-enum":
        mode = "all"
        for prefix, prefixed_mode in (("has_all:", "all"), ("has_any:", "any")):
            if text.startswith(prefix):
                text, mode = text[len(prefix) :], prefixed_mode
    options = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    if not options:
        raise invalid_param(name, "give at least one value")
    if len(options) > MAX_FILTER_VALUES:
        raise invalid_param(name, f"at most {MAX_FILTER_VALUES} values")
    return ExtendedFilter(schema, mode, options)


def parse_listing_query(
    items: list[tuple[str, str]], schemas: SchemaSet | None = None, limits: QueryLimits = QueryLimits()
) -> ListingQuery:
    """Validate raw (name, value) pairs into a ListingQuery; raises ApiError(400) naming the parameter.

    `schemas` are the search schemas of the index that will answer, so `pub_*`/`meta_*`
    parameters are judged by exactly what that index has.
    """
    schemas = schemas or SchemaSet()
    values = _single(items)
    extended: list[ExtendedFilter] = []
    for name, raw in values.items():
        if name in KNOWN or name in _IGNORED or name.startswith(_IGNORED_PREFIXES):
            continue
        if name in NOT_SUPPORTED:
            raise invalid_param(name, "not supported by this version of listing-search yet")
        if name.startswith(("pub_", "meta_")):
            schema = schemas.get(name)
            if schema is None:
                raise invalid_param(name, f"no search schema is defined for {name!r}")
            extended.append(_extended(schema, raw))
            continue
        raise invalid_param(name, "unknown parameter")
    keywords = values.get("keywords", "").strip() or None
    if keywords is not None and len(keywords) > limits.max_keywords_chars:
        raise invalid_param("keywords", f"at most {limits.max_keywords_chars} characters")
    if keywords is not None and len(keywords.split()) > MAX_KEYWORD_WORDS:
        raise invalid_param("keywords", f"at most {MAX_KEYWORD_WORDS} words")
    per_page = (
        _int("perPage", values["perPage"], minimum=1, maximum=MAX_PER_PAGE) if "perPage" in values else DEFAULT_PER_PAGE
    )
    page = _int("page", values["page"], minimum=1) if "page" in values else 1
    limit = pagination_limit(per_page)
    if page > limit:
        raise invalid_param("page", f"at most {limit} with perPage={per_page} (meta.paginationLimit)")
    return ListingQuery(
        keywords=keywords,
        price=parse_range("price", values["price"]) if "price" in values else None,
        ids=_ids(values["ids"], limits.max_ids) if "ids" in values else None,
        author_id=_uuid("authorId", values["authorId"]) if "authorId" in values else None,
        sort=_sort(values["sort"], schemas) if "sort" in values else (),
        page=page,
        per_page=per_page,
        fields=_fields(values["fields.listing"]) if "fields.listing" in values else None,
        shape=_shape(values),
        extended=tuple(extended),
        text_schemas=tuple(schemas.of_type("text")),
        origin=_origin(values["origin"]) if "origin" in values else None,
        bounds=_bounds(values["bounds"]) if "bounds" in values else None,
        availability=_availability(values),
        stock=_stock(values),
        facets=_facets(values["facets"], schemas) if "facets" in values else (),
        facet_limit=(
            _int("facetLimit", values["facetLimit"], minimum=1, maximum=MAX_FACET_LIMIT)
            if "facetLimit" in values
            else DEFAULT_FACET_LIMIT
        ),
    )


def parse_show(items: list[tuple[str, str]]) -> tuple[str, tuple[str, ...] | None, ResponseShape]:
    values = _single(items)
    for name in values:
        if name not in ("id", "fields.listing", *_IGNORED) and not name.startswith(_IGNORED_PREFIXES):
            raise invalid_param(name, "unknown parameter")
    if "id" not in values:
        raise invalid_param("id", "required")
    fields = _fields(values["fields.listing"]) if "fields.listing" in values else None
    return _uuid("id", values["id"]), fields, _shape(values)
