"""Facet aggregations and their answer (`facets`, `meta.facets`). Pure: no I/O.

Design, so results and facets cost one engine request:

- the own filter of a faceted key, when it is a *disjunctive* choice (enum, multi-enum `has_any:`, boolean, the
  ranges of price and long keys) goes to the request's `post_filter`: it narrows the hits but not
  the aggregations;
- every facet is a `filter` aggregation holding the other post-filter clauses, so each key's counts
  honour every filter but its own; everything else (keywords, dates, stock, bounds, conjunctive
  `has_all:` filters, visibility) stays in the query and so applies to all counts.

Defaults: the engine stores nothing for a listing that lacks a key (or held a wrong-typed value), so
a `missing` sub-aggregation counts those listings and they are added under the schema's default here,
exactly as `extended_clause` lets them match a filter on the default.

Exactness: values come from a `terms` aggregation of size `FACET_TERMS_SIZE` (not `facetLimit`),
because adding the default's count can reorder values, so the cut to `facetLimit` is made here after
merging. Counts and `otherValues` are exact while a key has at most `FACET_TERMS_SIZE` distinct
values among the counted listings (each shard then returns all of its terms); `cardinality` is not
used because it is approximate in OpenSearch. `min`/`max` are the engine's `min`/`max`
aggregations, which compute in doubles: exact for integers within ±2^53 (all prices in minor units).
"""

from __future__ import annotations

from typing import Any, Final

from schemas.index_layout import F
from search_api.search.listing_query import Facet

FACET_TERMS_SIZE: Final = 1000

_FacetValue = str | bool


def facet_field(facet: Facet) -> str:
    return F.PRICE if facet.schema is None else facet.schema.field


def _inner_aggs(facet: Facet) -> dict[str, Any]:
    field = facet_field(facet)
    aggs: dict[str, Any]
    if facet.is_range:
        aggs = {
            "lo": {"min": {"field": field}},
            "hi": {"max": {"field": field}},
            "n": {"value_count": {"field": field}},
        }
    else:
        aggs = {"v": {"terms": {"field": field, "size": FACET_TERMS_SIZE}}}
    if facet.schema is not None and facet.schema.default not in (None, []):
        aggs["missing"] = {"filter": {"bool": {"must_not": [{"exists": {"field": field}}]}}}
    return aggs


def facet_aggs(facets: tuple[Facet, ...], own_filters: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One `filter` aggregation per facet; `own_filters` are the post-filter clauses by facet key."""
    out: dict[str, Any] = {}
    for facet in facets:
        others = [clause for key, clause in own_filters.items() if key != facet.key]
        scope: dict[str, Any] = {"bool": {"filter": others}} if others else {"match_all": {}}
        out[facet.key] = {"filter": scope, "aggs": _inner_aggs(facet)}
    return out


def _bucket_value(facet: Facet, bucket: dict[str, Any]) -> _FacetValue:
    # Boolean buckets are keyed 1/0 with key_as_string "true"/"false".
    if facet.schema is not None and facet.schema.type == "boolean":
        return bool(bucket.get("key_as_string", "false") == "true" or bucket["key"] is True or bucket["key"] == 1)
    return str(bucket["key"])


def _default_values(facet: Facet) -> list[_FacetValue]:
    default = None if facet.schema is None else facet.schema.default
    if default is None:
        return []
    if isinstance(default, list):
        return list(dict.fromkeys(str(v) for v in default))
    if isinstance(default, bool):
        return [default]
    return [str(default)]


def _values_answer(facet: Facet, agg: dict[str, Any], missing: int, limit: int) -> dict[str, Any]:
    counts: dict[_FacetValue, int] = {}
    for bucket in agg["v"]["buckets"]:
        value = _bucket_value(facet, bucket)
        counts[value] = counts.get(value, 0) + int(bucket["doc_count"])
    if missing:
        for value in _default_values(facet):
            counts[value] = counts.get(value, 0) + missing
    # Count descending, then value ascending (false before true; strings by code point).
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {
        "values": [{"value": value, "count": count} for value, count in ranked[:limit]],
        "otherValues": max(0, len(ranked) - limit),
    }


def _range_answer(facet: Facet, agg: dict[str, Any], missing: int) -> dict[str, Any]:
    lo, hi = agg["lo"]["value"], agg["hi"]["value"]
    count = int(agg["n"]["value"])
    low = None if lo is None or count == 0 else int(lo)
    high = None if hi is None or count == 0 else int(hi)
    default = None if facet.schema is None else facet.schema.default
    if missing and isinstance(default, int) and not isinstance(default, bool):
        count += missing
        low = default if low is None else min(low, default)
        high = default if high is None else max(high, default)
    return {"min": low, "max": high, "count": count}


def facets_answer(facets: tuple[Facet, ...], aggregations: dict[str, Any], limit: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for facet in facets:
        agg = aggregations[facet.key]
        missing = int(agg["missing"]["doc_count"]) if "missing" in agg else 0
        if facet.is_range:
            out[facet.key] = _range_answer(facet, agg, missing)
        else:
            out[facet.key] = _values_answer(facet, agg, missing, limit)
    return out
