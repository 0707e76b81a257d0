"""Transit output, written out by hand from the spec (github.com/cognitect/transit-format) and the
Flex SDK's tags; the round trip through the SDK's own reader is tests/integration/test_transit_reader.py."""

from __future__ import annotations

import orjson
import pytest

from search_api.edge import transit
from search_api.errors import ApiError
from search_api.search.parse import parse_listing_query, parse_show


def test_compact_maps_cache_keys_and_keywords_and_escape_strings() -> None:
    value = {
        "data": [
            {"id": transit.Uuid("9a3e"), "type": transit.Keyword("listing"), "note": "~x"},
            {"id": transit.Uuid("9a3f"), "type": transit.Keyword("listing"), "note": "^y"},
        ],
        "meta": {"n": 1, "ok": None, "s": "`z"},
    }
    assert orjson.loads(transit.dumps(value)) == [
        "^ ",
        "~:data",
        [
            ["^ ", "~:id", "~u9a3e", "~:type", "~:listing", "~:note", "~~x"],
            ["^ ", "^1", "~u9a3f", "^2", "^3", "^4", "~^y"],
        ],
        "~:meta",
        ["^ ", "~:n", 1, "~:ok", None, "~:s", "~`z"],
    ]


def test_verbose_never_caches_and_writes_tags_as_maps() -> None:
    value = {
        "price": transit.Money(100, "USD"),
        "geo": transit.LatLng(1.5, 2.5),
        "at": transit.Instant("2024-01-01T00:00:00.000Z"),
    }
    out = orjson.loads(transit.dumps([value, value], verbose=True))
    one = {"~:price": {"~#mn": [100, "USD"]}, "~:geo": {"~#geo": [1.5, 2.5]}, "~:at": "~t2024-01-01T00:00:00.000Z"}
    assert out == [one, one]
    compact = orjson.loads(transit.dumps([value, value]))
    assert compact[0] == [
        "^ ",
        "~:price",
        ["~#mn", [100, "USD"]],
        "~:geo",
        ["~#geo", [1.5, 2.5]],
        "~:at",
        "~m1704067200000",
    ]
    assert compact[1] == ["^ ", "^0", ["^1", [100, "USD"]], "^2", ["^3", [1.5, 2.5]], "^4", "~m1704067200000"]


def test_a_top_level_scalar_is_quoted() -> None:
    assert orjson.loads(transit.dumps("^x")) == ["~#'", "~^x"]
    assert orjson.loads(transit.dumps(1, verbose=True)) == {"~#'": 1}


def test_the_cache_code_after_44_entries_has_two_digits() -> None:
    codes = transit._Cache()
    for i in range(44):
        codes.write(f"~:k{i:03d}", as_key=True)
    codes.write("~:last", as_key=True)
    assert codes.write("~:k000", as_key=True) == "^0"
    assert codes.write("~:k043", as_key=True) == "^" + chr(48 + 43)
    assert codes.write("~:last", as_key=True) == "^10"


@pytest.mark.parametrize(
    ("accept", "wanted"),
    [
        ("application/transit+json", True),
        ("application/json, application/transit+json;q=0.9", True),
        ("Application/Transit+JSON", True),
        ("application/transit+json;q=0", False),
        ("application/json", False),
        ("*/*", False),
        (None, False),
    ],
)
def test_transit_is_negotiated_only_when_accept_names_it(accept: str | None, wanted: bool) -> None:
    assert transit.wants_transit(accept) is wanted


def test_typed_body_types_flex_resources_and_drops_relationships_not_included() -> None:
    listing = {
        "id": "00000000-0000-4000-8000-000000000001",
        "type": "listing",
        "attributes": {
            "price": {"amount": 1, "currency": "EUR"},
            "publicData": {"price": {"amount": 2, "currency": "X"}},
        },
        "relationships": {"author": {"data": {"id": "00000000-0000-4000-8000-000000000002", "type": "user"}}},
    }
    plain = transit.typed_body({"data": [listing]})["data"][0]
    assert plain["id"] == transit.Uuid(listing["id"]) and plain["type"] == transit.Keyword("listing")
    assert plain["attributes"]["price"] == transit.Money(1, "EUR")
    assert plain["attributes"]["publicData"] == listing["attributes"]["publicData"]  # the operator's own JSON
    assert "relationships" not in plain
    included = transit.typed_body({"data": listing, "included": []})["data"]
    assert included["relationships"]["author"]["data"]["id"] == transit.Uuid("00000000-0000-4000-8000-000000000002")


def test_include_names_flex_relationships_and_limit_images_is_a_count() -> None:
    q = parse_listing_query([("include", "author,images"), ("limit.images", "2"), ("imageVariant.x", "w:1")])
    assert q.shape.include == frozenset({"author", "images"}) and q.shape.image_limit == 2
    assert parse_listing_query([]).shape.include is None
    _, _, shape = parse_show([("id", "00000000-0000-4000-8000-000000000001"), ("include", "currentStock")])
    assert shape.include == frozenset({"currentStock"})
    # A path includes every resource on its way (JSON:API "Inclusion of Related Resources").
    deep = parse_listing_query([("include", "author.profileImage")]).shape.include
    assert deep == frozenset({"author", "author.profileImage"})
    for bad, param in [([("include", "reviews")], "include"), ([("limit.images", "-1")], "limit.images")]:
        with pytest.raises(ApiError) as err:
            parse_listing_query(bad)
        assert err.value.param == param
