"""ListingQuery -> OpenSearch query DSL. Pure: no I/O, so it is unit- and property-tested alone."""

from __future__ import annotations

from typing import Any

from schemas.availability import AvailabilityQuery
from schemas.index_layout import F, public_filter
from search_api.search.facets import facet_aggs
from search_api.search.listing_query import ExtendedFilter, GeoBox, ListingQuery, RangeFilter, SortKey, StockFilter

# Title weighs more than description (contract §4); whole words more than word prefixes.
KEYWORD_FIELDS = (f"{F.TITLE}^3", f"{F.DESCRIPTION}^1")
PREFIX_FIELDS = (f"{F.TITLE}.{F.PREFIX_SUBFIELD}^1.5", f"{F.DESCRIPTION}.{F.PREFIX_SUBFIELD}^0.5")
# One edit for words of 5+ characters ("AUTO:low,high": 0 edits below low, 1 below high).
TYPO_FUZZINESS = "AUTO:5,1000"

_SORT_FIELDS = {"createdAt": F.CREATED_AT, "price": F.PRICE}


def range_clause(field: str, rng: RangeFilter) -> dict[str, Any]:
    if rng.exact is not None:
        return {"term": {field: rng.exact}}
    bounds: dict[str, int] = {}
    if rng.min is not None:
        bounds["gte"] = rng.min
    if rng.max is not None:
        bounds["lt"] = rng.max
    return {"range": {field: bounds}}


def _range_contains(rng: RangeFilter, value: int) -> bool:
    if rng.exact is not None:
        return value == rng.exact
    return (rng.min is None or value >= rng.min) and (rng.max is None or value < rng.max)


def extended_clause(f: ExtendedFilter) -> dict[str, Any]:
    """A schema filter; a listing lacking the key counts as having the schema's default."""
    field, default = f.schema.field, f.schema.default
    clause: dict[str, Any]
    if f.mode == "range":
        assert f.range is not None
        clause = range_clause(field, f.range)
        default_matches = isinstance(default, int) and _range_contains(f.range, default)
    elif f.mode == "bool":
        clause = {"term": {field: f.values[0]}}
        default_matches = default is not None and default == f.values[0]
    elif f.mode == "all":
        clause = {"bool": {"filter": [{"term": {field: v}} for v in f.values]}}
        default_matches = isinstance(default, list) and set(f.values) <= set(default)
    else:
        clause = {"terms": {field: list(f.values)}}
        options = default if isinstance(default, list) else [default]
        default_matches = default is not None and any(v in options for v in f.values)
    if not default_matches:
        return clause
    missing = {"bool": {"must_not": [{"exists": {"field": field}}]}}
    return {"bool": {"should": [clause, missing], "minimum_should_match": 1}}


def keywords_clause(keywords: str, text_fields: tuple[str, ...] = ()) -> dict[str, Any]:
    # Extended-data text weighs least (contract §4: title > description > extended data).
    fields = [*KEYWORD_FIELDS, *(f"{f}^0.5" for f in text_fields)]
    prefixes = [*PREFIX_FIELDS, *(f"{f}.{F.PREFIX_SUBFIELD}^0.25" for f in text_fields)]
    return {
        "bool": {
            "should": [
                {
                    "multi_match": {
                        "query": keywords,
                        "fields": fields,
                        "operator": "or",
                        "fuzziness": TYPO_FUZZINESS,
                    }
                },
                {"multi_match": {"query": keywords, "fields": prefixes, "operator": "or"}},
            ],
            "minimum_should_match": 1,
        }
    }


def own_filters(q: ListingQuery) -> dict[str, dict[str, Any]]:
    """The disjunctive filters of faceted keys, by key: their own facet's counts ignore them.

    A `has_all:` (or plain-list) multi-enum filter is conjunctive, so it is not here: its counts
    are taken within the filtered results.
    """
    faceted = {f.key for f in q.facets}
    out: dict[str, dict[str, Any]] = {}
    if q.price is not None and "price" in faceted:
        out["price"] = range_clause(F.PRICE, q.price)
    for f in q.extended:
        if f.schema.param in faceted and f.mode != "all":
            out[f.schema.param] = extended_clause(f)
    return out


def filters(q: ListingQuery, exclude: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Every filter of the query but those of the keys in `exclude` (which go to the post-filter)."""
    out = public_filter()
    if q.price is not None and "price" not in exclude:
        out.append(range_clause(F.PRICE, q.price))
    if q.ids is not None:
        out.append({"ids": {"values": list(q.ids)}})
    if q.author_id is not None:
        out.append({"term": {F.AUTHOR: q.author_id}})
    out.extend(extended_clause(f) for f in q.extended if f.schema.param not in exclude)
    if q.bounds is not None:
        out.append(bounds_clause(q.bounds))
    if q.availability is not None:
        out.extend(availability_clauses(q.availability))
    if q.stock is not None:
        out.append(stock_clause(q.stock))
    return out


def bounds_clause(box: GeoBox) -> dict[str, Any]:
    # OpenSearch reads a box whose left edge is east of its right edge as crossing the antimeridian.
    return {
        "geo_bounding_box": {
            F.GEO: {
                "top_left": {"lat": box.ne.lat, "lon": box.sw.lng},
                "bottom_right": {"lat": box.sw.lat, "lon": box.ne.lng},
            }
        }
    }


def availability_clauses(q: AvailabilityQuery) -> list[dict[str, Any]]:
    """One nested run must satisfy the mode (see schemas.availability for why this is exact)."""
    ws, we = q.window
    run = F.AVAILABILITY

    def at_least(field: str, minutes: int) -> dict[str, Any]:
        return {"range": {f"{run}.{field}": {"gte": minutes * 60_000}}}

    def at_most(field: str, minutes: int) -> dict[str, Any]:
        return {"range": {f"{run}.{field}": {"lte": minutes * 60_000}}}

    conditions: list[dict[str, Any]] = [{"range": {f"{run}.{F.RUN_LEVEL}": {"gte": q.seats}}}]
    if q.partial:
        d = q.needed
        conditions += [
            {"range": {f"{run}.{F.RUN_LENGTH}": {"gte": d}}},
            at_least(F.RUN_END, ws + d),
            at_most(F.RUN_START, we - d),
        ]
    else:
        conditions += [at_most(F.RUN_START, ws), at_least(F.RUN_END, we)]
    return [
        {"term": {F.PLAN_TYPE: q.plan_kind}},
        {"nested": {"path": run, "query": {"bool": {"filter": conditions}}}},
    ]


def stock_clause(f: StockFilter) -> dict[str, Any]:
    enough = {"range": {F.STOCK: {"gte": f.min_stock}}}
    if not f.match_undefined:
        return enough
    return {
        "bool": {
            "should": [enough, {"bool": {"must_not": [{"exists": {"field": F.STOCK}}]}}],
            "minimum_should_match": 1,
        }
    }


def _sort_entry(key: SortKey) -> dict[str, Any]:
    order = "asc" if key.ascending else "desc"
    if key.schema is not None:
        default = key.schema.default
        return {key.schema.field: {"order": order, "missing": default if isinstance(default, int) else "_last"}}
    return {_SORT_FIELDS[key.key]: {"order": order, "missing": "_last"}}


def sort_clause(q: ListingQuery) -> list[Any]:
    """Explicit sort > distance from origin > relevance (keywords) > newest; then id for a total order."""
    out: list[Any] = [_sort_entry(key) for key in q.sort]
    if q.origin is not None:
        # The points as an array: OpenSearch also takes one bare point, its API specification does not.
        origin = [{"lat": q.origin.lat, "lon": q.origin.lng}]
        out.append({"_geo_distance": {F.GEO: origin, "order": "asc", "unit": "m"}})
    if not q.sort:
        if q.keywords:
            # Not `{"_score": {"order": "desc"}}`: the specification's `oneOf` reads that as both a field
            # sort and the score sort, and so refuses it.
            out.append({"_score": "desc"})
        if q.origin is None:
            out.append({F.CREATED_AT: {"order": "desc", "missing": "_last"}})
    # A total order, so pages never overlap or skip a listing.
    out.append({F.ID: {"order": "asc"}})
    return out


def search_body(q: ListingQuery) -> dict[str, Any]:
    """One request for the page and the facets: see search_api.search.facets for how they combine."""
    own = own_filters(q)
    query: dict[str, Any] = {"filter": filters(q, frozenset(own))}
    if q.keywords:
        query["must"] = [keywords_clause(q.keywords, tuple(s.field for s in q.text_schemas))]
    body: dict[str, Any] = {
        "query": {"bool": query},
        "sort": sort_clause(q),
        "from": (q.page - 1) * q.per_page,
        "size": q.per_page,
        "track_total_hits": True,
        "_source": [f"{F.SOURCE}.listing"],
    }
    if own:
        # Hits (and so totalItems) honour the post-filter; aggregations do not.
        body["post_filter"] = {"bool": {"filter": list(own.values())}}
    if q.facets:
        body["aggs"] = facet_aggs(q.facets, own)
    return body
