"""`facets`/`facetLimit` parsing and the one-request DSL, without an engine (answers are proven
against the real engine in tests/integration/test_facets.py)."""

from __future__ import annotations

import pytest

from schemas.search_schema import SchemaSet, SearchSchema
from search_api.errors import ApiError
from search_api.search.dsl import search_body
from search_api.search.facets import facets_answer
from search_api.search.limits import MAX_FACETS
from search_api.search.parse import parse_listing_query

SCHEMAS = SchemaSet(
    [
        SearchSchema(key="listingType", scope="public", type="enum"),
        SearchSchema(key="amenities", scope="public", type="multi-enum", default=["wifi"]),
        SearchSchema(key="pets", scope="public", type="boolean", default=False),
        SearchSchema(key="guests", scope="public", type="long", default=1),
        SearchSchema(key="blurb", scope="public", type="text"),
    ]
)


@pytest.mark.parametrize(
    ("items", "param"),
    [
        ([("facets", "pub_nope")], "facets"),
        ([("facets", "pub_blurb")], "facets"),
        ([("facets", "createdAt")], "facets"),
        ([("facets", " ")], "facets"),
        ([("facets", "price,")], "facets"),
        ([("facets", ",".join(f"pub_k{i}" for i in range(MAX_FACETS + 1)))], "facets"),
        ([("facets", "price"), ("facetLimit", "0")], "facetLimit"),
        ([("facets", "price"), ("facetLimit", "101")], "facetLimit"),
        ([("facets", "price"), ("facetLimit", "1.5")], "facetLimit"),
        ([("cursor", "x")], "cursor"),
    ],
)
def test_bad_facet_input_is_a_400_naming_it(items: list[tuple[str, str]], param: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_listing_query(items, SCHEMAS)
    assert err.value.status == 400 and err.value.param == param


def test_more_than_ten_keys_is_refused_before_any_lookup() -> None:
    with pytest.raises(ApiError, match="at most 10 keys"):
        parse_listing_query([("facets", ",".join(["price"] + [f"pub_k{i}" for i in range(10)]))], SCHEMAS)


def test_disjunctive_own_filters_move_to_the_post_filter_only_when_faceted() -> None:
    items = [
        ("pub_listingType", "a,b"),
        ("pub_amenities", "has_all:wifi"),
        ("price", "100,"),
        ("pub_pets", "true"),
        ("facets", "pub_listingType,pub_amenities,price"),
    ]
    body = search_body(parse_listing_query(items, SCHEMAS))
    post = body["post_filter"]["bool"]["filter"]
    assert {"terms": {"pub.listingType": ["a", "b"]}} in post
    assert {"range": {"priceAmount": {"gte": 100}}} in post
    query = body["query"]["bool"]["filter"]
    # has_all is conjunctive and pets is not faceted: both stay in the query.
    assert any("pub.amenities" in str(c) for c in query)
    assert any("pub.pets" in str(c) for c in query)
    assert not any("pub.listingType" in str(c) or "priceAmount" in str(c) for c in query)
    # Each facet's scope holds the other keys' own filters, never its own.
    aggs = body["aggs"]
    assert "pub.listingType" not in str(aggs["pub_listingType"]["filter"])
    assert "priceAmount" in str(aggs["pub_listingType"]["filter"])
    assert "priceAmount" not in str(aggs["price"]["filter"])
    assert "pub.listingType" in str(aggs["pub_amenities"]["filter"])


def test_no_facets_no_aggregations() -> None:
    body = search_body(parse_listing_query([("pub_listingType", "a")], SCHEMAS))
    assert "aggs" not in body and "post_filter" not in body


def test_defaults_are_added_and_the_cut_is_made_after_merging() -> None:
    q = parse_listing_query([("facets", "pub_amenities,pub_pets,pub_guests"), ("facetLimit", "1")], SCHEMAS)
    aggregations = {
        "pub_amenities": {
            "v": {"buckets": [{"key": "pool", "doc_count": 3}, {"key": "wifi", "doc_count": 1}]},
            "missing": {"doc_count": 4},
        },
        "pub_pets": {
            "v": {"buckets": [{"key": 1, "key_as_string": "true", "doc_count": 2}]},
            "missing": {"doc_count": 2},
        },
        "pub_guests": {"lo": {"value": 2.0}, "hi": {"value": 6.0}, "n": {"value": 3}, "missing": {"doc_count": 1}},
    }
    assert facets_answer(q.facets, aggregations, q.facet_limit) == {
        "pub_amenities": {"values": [{"value": "wifi", "count": 5}], "otherValues": 1},
        # A tie: false sorts before true.
        "pub_pets": {"values": [{"value": False, "count": 2}], "otherValues": 1},
        "pub_guests": {"min": 1, "max": 6, "count": 4},
    }
    empty = {
        "pub_guests": {"lo": {"value": None}, "hi": {"value": None}, "n": {"value": 0}, "missing": {"doc_count": 0}}
    }
    only_range = parse_listing_query([("facets", "pub_guests")], SCHEMAS)
    assert facets_answer(only_range.facets, empty, 20) == {"pub_guests": {"min": None, "max": None, "count": 0}}
