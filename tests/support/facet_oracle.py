"""Brute-force facets: every count computed from the listings and the rules of issue 14 alone.

Covers publication, `ids`, `bounds`, price and schema filters. With keywords and dates the facet
tests check only that counts add up to `totalItems` (those filters have oracles of their own).
Deliberately shares nothing with search_api.search.facets or the query builder beyond the schema type
check (`value_problem`, which is what makes a value "wrong-typed" for the indexer too), so an
agreement between the two is evidence, not an echo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.search_schema import SCOPE_SOURCE, SearchSchema, value_problem


@dataclass(frozen=True)
class Listing:
    id: str
    published: bool
    price: int | None
    public_data: dict[str, Any]
    metadata: dict[str, Any]
    geo: tuple[float, float] | None = None  # (lat, lng)


@dataclass(frozen=True)
class Filter:
    """`mode`: any (enum or multi-enum has_any), all (multi-enum has_all), bool, range (long, price)."""

    key: str
    mode: str
    values: tuple[Any, ...] = ()
    low: int | None = None
    high: int | None = None  # exclusive, as in the API


@dataclass(frozen=True)
class Query:
    filters: tuple[Filter, ...] = ()
    ids: frozenset[str] | None = None
    facets: tuple[str, ...] = ()
    limit: int = 20
    schemas: dict[str, SearchSchema] = field(default_factory=dict)
    # (ne_lat, ne_lng, sw_lat, sw_lng), as the API's `bounds`; a listing on its edge is inside.
    bounds: tuple[float, float, float, float] | None = None


def effective(schema: SearchSchema, listing: Listing) -> Any:
    """The value filters and facets see: missing, null, empty or wrong-typed all mean the default."""
    data = listing.public_data if SCOPE_SOURCE[schema.scope] == "publicData" else listing.metadata
    value = data.get(schema.key)
    if value is None or value_problem(schema.type, value) is not None or value == []:
        return schema.default
    return value


def _value_of(q: Query, key: str, listing: Listing) -> Any:
    return listing.price if key == "price" else effective(q.schemas[key], listing)


def matches(q: Query, f: Filter, listing: Listing) -> bool:
    value = _value_of(q, f.key, listing)
    if f.mode == "range":
        if value is None:
            return False
        return (f.low is None or value >= f.low) and (f.high is None or value < f.high)
    if f.mode == "bool":
        return value is not None and value == f.values[0]
    if f.mode == "all":
        return isinstance(value, list) and set(f.values) <= set(value)
    held = value if isinstance(value, list) else [value]
    return value is not None and any(v in held for v in f.values)


def _disjunctive(f: Filter) -> bool:
    return f.mode != "all"


def counted(q: Query, listings: list[Listing], ignore: str | None = None) -> list[Listing]:
    """Published listings matching every filter, except `ignore`'s own filter when disjunctive."""
    out = []
    for listing in listings:
        if not listing.published or (q.ids is not None and listing.id not in q.ids):
            continue
        if q.bounds is not None:
            ne_lat, ne_lng, sw_lat, sw_lng = q.bounds
            if listing.geo is None or not (sw_lat <= listing.geo[0] <= ne_lat and sw_lng <= listing.geo[1] <= ne_lng):
                continue
        if all(matches(q, f, listing) for f in q.filters if not (f.key == ignore and _disjunctive(f))):
            out.append(listing)
    return out


def facet(q: Query, listings: list[Listing], key: str) -> dict[str, Any]:
    pool = counted(q, listings, ignore=key)
    values = [_value_of(q, key, listing) for listing in pool]
    if key == "price" or q.schemas[key].type == "long":
        present = [v for v in values if v is not None]
        return {"min": min(present, default=None), "max": max(present, default=None), "count": len(present)}
    counts: dict[Any, int] = {}
    for value in values:
        for v in set(value) if isinstance(value, list) else ({value} if value is not None else set()):
            counts[v] = counts.get(v, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {
        "values": [{"value": v, "count": c} for v, c in ranked[: q.limit]],
        "otherValues": max(0, len(ranked) - q.limit),
    }


def facets(q: Query, listings: list[Listing]) -> dict[str, Any]:
    return {key: facet(q, listings, key) for key in q.facets}


def results(q: Query, listings: list[Listing]) -> set[str]:
    return {listing.id for listing in counted(q, listings)}
