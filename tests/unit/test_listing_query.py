"""Query parameter parsing and DSL building, without an engine."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.index_layout import F
from search_api.errors import ApiError
from search_api.search.dsl import range_clause, search_body
from search_api.search.listing_query import RangeFilter
from search_api.search.parse import parse_listing_query, parse_range

NAMES = ["keywords", "price", "ids", "authorId", "sort", "page", "perPage", "fields.listing", "pub_x", "origin", "zz"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(NAMES), st.text(max_size=60)), max_size=5))
def test_any_parameters_parse_or_raise_a_400_naming_one(items: list[tuple[str, str]]) -> None:
    try:
        q = parse_listing_query(items)
    except ApiError as err:
        assert err.status == 400
        assert err.param in {name for name, _ in items}
        assert err.details.startswith(f"{err.param}:")
        return
    body = search_body(q)
    assert body["size"] == q.per_page and body["from"] + body["size"] <= 10_000


def matches(rng: RangeFilter, value: int) -> bool:
    clause = range_clause("p", rng)
    if "term" in clause:
        return bool(value == clause["term"]["p"])
    bounds = clause["range"]["p"]
    return value >= bounds.get("gte", -(10**18)) and value < bounds.get("lt", 10**18)


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 1000), st.integers(0, 1000), st.integers(0, 1000), st.sampled_from(["both", "min", "max"]))
def test_range_semantics_min_inclusive_max_exclusive(lo: int, hi: int, value: int, form: str) -> None:
    text = {"both": f"{lo},{hi}", "min": f"{lo},", "max": f",{hi}"}[form]
    try:
        rng = parse_range("price", text)
    except ApiError:
        assert form == "both" and hi <= lo
        return
    expected = {"both": lo <= value < hi, "min": value >= lo, "max": value < hi}[form]
    assert matches(rng, value) == expected


def test_public_filter_is_always_applied() -> None:
    for items in ([], [("keywords", "x")], [("ids", "11111111-1111-4111-8111-111111111111")]):
        body = search_body(parse_listing_query(items))
        assert {"term": {F.STATE: "published"}} in body["query"]["bool"]["filter"]
        assert {"term": {F.DELETED: False}} in body["query"]["bool"]["filter"]


def test_sort_has_total_order() -> None:
    body = search_body(parse_listing_query([("sort", "-price")]))
    assert body["sort"] == [{F.PRICE: {"order": "asc", "missing": "_last"}}, {F.ID: {"order": "asc"}}]
    kw = search_body(parse_listing_query([("keywords", "x")]))
    assert kw["sort"][0] == {"_score": "desc"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("5", RangeFilter(exact=5)),
        ("1,2", RangeFilter(min=1, max=2)),
        ("1,", RangeFilter(min=1)),
        (",2", RangeFilter(max=2)),
        (" 1 , 2 ", RangeFilter(min=1, max=2)),
    ],
)
def test_price_forms(raw: str, expected: RangeFilter) -> None:
    assert parse_range("price", raw) == expected
