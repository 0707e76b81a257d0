"""ListingQuery -> OpenSearch query DSL. Pure: no I/O, so it is unit- and property-tested alone."""

from __future__ import annotations

from typing import Any

from schemas.index_layout import F, public_filter
from search_api.listing_params import ListingQuery, PriceFilter

# Title weighs more than description (contract §4); whole words more than word prefixes.
KEYWORD_FIELDS = (f"{F.TITLE}^3", f"{F.DESCRIPTION}^1")
PREFIX_FIELDS = (f"{F.TITLE}.{F.PREFIX_SUBFIELD}^1.5", f"{F.DESCRIPTION}.{F.PREFIX_SUBFIELD}^0.5")
# One edit for words of 5+ characters ("AUTO:low,high": 0 edits below low, 1 below high).
TYPO_FUZZINESS = "AUTO:5,1000"

_SORT_FIELDS = {"createdAt": F.CREATED_AT, "price": F.PRICE}


def range_clause(field: str, rng: PriceFilter) -> dict[str, Any]:
    if rng.exact is not None:
        return {"term": {field: rng.exact}}
    bounds: dict[str, int] = {}
    if rng.min is not None:
        bounds["gte"] = rng.min
    if rng.max is not None:
        bounds["lt"] = rng.max
    return {"range": {field: bounds}}


def keywords_clause(keywords: str) -> dict[str, Any]:
    return {
        "bool": {
            "should": [
                {
                    "multi_match": {
                        "query": keywords,
                        "fields": list(KEYWORD_FIELDS),
                        "operator": "or",
                        "fuzziness": TYPO_FUZZINESS,
                    }
                },
                {"multi_match": {"query": keywords, "fields": list(PREFIX_FIELDS), "operator": "or"}},
            ],
            "minimum_should_match": 1,
        }
    }


def filters(q: ListingQuery) -> list[dict[str, Any]]:
    out = public_filter()
    if q.price is not None:
        out.append(range_clause(F.PRICE, q.price))
    if q.ids is not None:
        out.append({"ids": {"values": list(q.ids)}})
    if q.author_id is not None:
        out.append({"term": {F.AUTHOR: q.author_id}})
    return out


def sort_clause(q: ListingQuery) -> list[Any]:
    out: list[Any] = []
    for key in q.sort:
        out.append({_SORT_FIELDS[key.key]: {"order": "asc" if key.ascending else "desc", "missing": "_last"}})
    if not q.sort:
        if q.keywords:
            out.append({"_score": {"order": "desc"}})
        out.append({F.CREATED_AT: {"order": "desc", "missing": "_last"}})
    # A total order, so pages never overlap or skip a listing.
    out.append({F.ID: {"order": "asc"}})
    return out


def search_body(q: ListingQuery) -> dict[str, Any]:
    query: dict[str, Any] = {"filter": filters(q)}
    if q.keywords:
        query["must"] = [keywords_clause(q.keywords)]
    return {
        "query": {"bool": query},
        "sort": sort_clause(q),
        "from": (q.page - 1) * q.per_page,
        "size": q.per_page,
        "track_total_hits": True,
        "_source": [f"{F.SOURCE}.listing"],
    }
