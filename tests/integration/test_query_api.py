"""The public query API: filters, sorting, keywords, paging, sparse fields and the 400s."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.events import listing_event, new_id
from tests.support.service import Service, running_service

# (title, description, price, createdAt)
ROWS = [
    ("Cozy cottage by the lake", "Quiet and green", 5_000, "2026-01-05T00:00:00.000Z"),
    ("Modern loft downtown", "A cozy corner in the city", 12_000, "2026-01-04T00:00:00.000Z"),
    ("Café apartment", "Espresso every morning", 9_999, "2026-01-03T00:00:00.000Z"),
    ("Mountain cabin", "Skiing and hiking", 10_000, "2026-01-02T00:00:00.000Z"),
    ("Beach house", "Surf all day", 20_000, "2026-01-01T00:00:00.000Z"),
    ("Unpriced tent", "Bring a sleeping bag", None, "2025-12-31T00:00:00.000Z"),
]
AUTHOR_A = "11111111-1111-4111-8111-111111111111"


@pytest.fixture(scope="module")
def catalog(engine_url: str, redis_url: str) -> Iterator[tuple[Service, dict[str, str]]]:
    with running_service(engine_url, redis_url) as svc:
        ids: dict[str, str] = {}
        events = []
        for seq, (title, desc, price, created) in enumerate(ROWS, start=1):
            ids[title] = new_id()
            events.append(
                listing_event(
                    seq,
                    ids[title],
                    event_type="listing/created",
                    title=title,
                    description=desc,
                    price=price,
                    created_at=created,
                    author_id=AUTHOR_A if seq % 2 else None,
                    private_data={"doorCode": "PRIVATE-4711"},
                    public_data={"listingType": "stay"},
                )
            )
        svc.send(events)
        svc.wait_searchable()
        yield svc, ids


def titles(svc: Service, **params: Any) -> list[str]:
    return [d["attributes"]["title"] for d in svc.query(**params)["data"]]


def test_default_order_is_newest_first(catalog: tuple[Service, dict[str, str]]) -> None:
    svc, _ = catalog
    assert titles(svc) == [r[0] for r in ROWS]
    assert titles(svc, sort="-createdAt") == [r[0] for r in reversed(ROWS)]


def test_price_sort_directions(catalog: tuple[Service, dict[str, str]]) -> None:
    svc, _ = catalog
    cheapest_first = titles(svc, sort="-price")
    assert cheapest_first[:5] == [
        "Cozy cottage by the lake",
        "Café apartment",
        "Mountain cabin",
        "Modern loft downtown",
        "Beach house",
    ]
    assert cheapest_first[-1] == "Unpriced tent"  # no price sorts last either way
    dearest_first = titles(svc, sort="price")
    assert dearest_first[:5] == list(reversed(cheapest_first[:5]))
    assert dearest_first[-1] == "Unpriced tent"


def test_price_min_inclusive_max_exclusive(catalog: tuple[Service, dict[str, str]]) -> None:
    svc, _ = catalog
    assert set(titles(svc, price="9999,12000")) == {"Café apartment", "Mountain cabin"}
    assert set(titles(svc, price="10000,")) == {"Mountain cabin", "Modern loft downtown", "Beach house"}
    assert set(titles(svc, price=",10000")) == {"Cozy cottage by the lake", "Café apartment"}
    assert titles(svc, price="10000") == ["Mountain cabin"]


def test_keywords_match_fold_prefix_and_typo(catalog: tuple[Service, dict[str, str]]) -> None:
    svc, _ = catalog
    # Title outweighs description: "cozy" is in one title and one description.
    assert titles(svc, keywords="cozy") == ["Cozy cottage by the lake", "Modern loft downtown"]
    assert titles(svc, keywords="cafe") == ["Café apartment"]  # accents folded
    assert titles(svc, keywords="cott") == ["Cozy cottage by the lake"]  # word prefix, 3+ chars
    assert titles(svc, keywords="montain") == ["Mountain cabin"]  # one typo in a 5+ letter word
    assert set(titles(svc, keywords="mountain surf")) == {"Mountain cabin", "Beach house"}  # any word matches
    assert titles(svc, keywords="zzzqqq") == []
    assert titles(svc, keywords="co") == []  # 2-char prefixes do not match
    assert titles(svc, keywords="PRIVATE-4711") == []  # privateData is never searchable


def test_keywords_with_explicit_sort(catalog: tuple[Service, dict[str, str]]) -> None:
    svc, _ = catalog
    assert titles(svc, keywords="cozy", sort="-price") == ["Cozy cottage by the lake", "Modern loft downtown"]
    assert titles(svc, keywords="cozy", sort="price") == ["Modern loft downtown", "Cozy cottage by the lake"]


def test_ids_and_author_filters(catalog: tuple[Service, dict[str, str]]) -> None:
    svc, ids = catalog
    wanted = [ids["Beach house"], ids["Mountain cabin"], new_id()]
    assert set(svc.ids(ids=",".join(wanted))) == set(wanted[:2])
    assert set(svc.ids(ids=",".join(wanted).upper())) == set(wanted[:2])  # UUIDs compare case-insensitively
    assert set(titles(svc, authorId=AUTHOR_A)) == {ROWS[i][0] for i in (0, 2, 4)}


def test_pagination_meta_and_stability(catalog: tuple[Service, dict[str, str]]) -> None:
    svc, _ = catalog
    body = svc.query(perPage=4, page=2)
    assert body["meta"] == {"totalItems": 6, "totalPages": 2, "page": 2, "perPage": 4, "paginationLimit": 2500}
    seen = [d["id"] for p in (1, 2) for d in svc.query(perPage=4, page=p)["data"]]
    assert len(seen) == len(set(seen)) == 6
    assert svc.query(perPage=4, page=3)["data"] == []
    assert svc.query()["meta"]["perPage"] == 100 and svc.query()["meta"]["paginationLimit"] == 100


def test_sparse_fields(catalog: tuple[Service, dict[str, str]]) -> None:
    svc, _ = catalog
    [first] = svc.query(perPage=1, **{"fields.listing": "title,price,publicData.listingType"})["data"]
    assert first["attributes"] == {
        "title": "Cozy cottage by the lake",
        "price": {"amount": 5000, "currency": "USD"},
        "publicData": {"listingType": "stay"},
    }
    assert first["relationships"]["author"]["data"]["id"] == AUTHOR_A


def test_response_shape_and_no_private_data(catalog: tuple[Service, dict[str, str]]) -> None:
    svc, ids = catalog
    responses = [
        svc.public.get("/v1/api/listings/query"),
        svc.public.get("/v1/api/listings/query", params={"keywords": "cozy"}),
        svc.public.get("/v1/api/listings/query", params={"ids": ",".join(ids.values())}),
        svc.public.get("/v1/api/listings/show", params={"id": ids["Beach house"]}),
    ]
    for resp in responses:
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "application/json"
        assert "privateData" not in resp.text and "PRIVATE-4711" not in resp.text
    listing = responses[3].json()["data"]
    assert listing["type"] == "listing" and listing["id"] == ids["Beach house"]
    assert set(listing["attributes"]) == {
        "title",
        "description",
        "geolocation",
        "price",
        "publicData",
        "metadata",
        "state",
        "deleted",
        "createdAt",
        "availabilityPlan",
    }
    assert listing["attributes"]["state"] == "published"


BAD_PARAMS: list[tuple[dict[str, str], str]] = [
    ({"price": "5,1"}, "price"),
    ({"price": "5,5"}, "price"),
    ({"price": "abc"}, "price"),
    ({"price": "-5"}, "price"),
    ({"price": ","}, "price"),
    ({"price": "1,2,3"}, "price"),
    ({"perPage": "0"}, "perPage"),
    ({"perPage": "101"}, "perPage"),
    ({"perPage": "ten"}, "perPage"),
    ({"perPage": "²"}, "perPage"),  # a Unicode digit int() refuses
    ({"page": "0"}, "page"),
    ({"page": "2501", "perPage": "4"}, "page"),
    ({"sort": "rating"}, "sort"),
    ({"sort": "price,createdAt,-price"}, "sort"),
    ({"sort": "createdAt,price,-createdAt,price"}, "sort"),
    ({"sort": ""}, "sort"),
    ({"ids": "not-a-uuid"}, "ids"),
    ({"ids": ",".join(["11111111-1111-4111-8111-111111111111"] * 101)}, "ids"),
    ({"authorId": "42"}, "authorId"),
    ({"fields.listing": "privateData"}, "fields.listing"),
    ({"fields.listing": "nope"}, "fields.listing"),
    ({"pub_color": "red"}, "pub_color"),
    ({"meta_rating": "5"}, "meta_rating"),
    ({"colour": "red"}, "colour"),
    ({"origin": "91,2"}, "origin"),
    ({"origin": "1"}, "origin"),
    ({"bounds": "1,2,3,4"}, "bounds"),
    ({"bounds": "1,2,0,x"}, "bounds"),
    ({"bounds": "1,200,0,0"}, "bounds"),
    ({"start": "2027-01-01"}, "end"),
    ({"seats": "2"}, "start"),
    ({"start": "2020-01-01", "end": "2020-01-02"}, "start"),
    ({"start": "tomorrow", "end": "2020-01-02"}, "start"),
    ({"start": "0001-01-01T00:00:00+14:00", "end": "2020-01-02"}, "start"),  # no UTC form
    ({"minStock": "-1"}, "minStock"),
    ({"stockMode": "strict"}, "stockMode"),
    ({"minStock": "1", "stockMode": "lenient"}, "stockMode"),
    ({"facets": "pub_nope"}, "facets"),  # facets work; a key with no schema is a 400
    ({"keywords": "x" * 300}, "keywords"),
    ({"keywords": " ".join(["ab"] * 33)}, "keywords"),
]


@pytest.mark.parametrize(("params", "param"), BAD_PARAMS, ids=[f"{p}" for _, p in BAD_PARAMS])
def test_bad_parameters_are_400_naming_the_parameter(
    catalog: tuple[Service, dict[str, str]], params: dict[str, str], param: str
) -> None:
    svc, _ = catalog
    resp = svc.public.get("/v1/api/listings/query", params=params)
    assert resp.status_code == 400, resp.text
    [err] = resp.json()["errors"]
    assert err["status"] == 400 and err["code"] == "validation-invalid-params" and err["title"]
    assert err["source"] == {"path": ["query", param]}
    assert err["details"].startswith(f"{param}:")


def test_repeated_parameter_is_400(catalog: tuple[Service, dict[str, str]]) -> None:
    svc, _ = catalog
    resp = svc.public.get("/v1/api/listings/query?price=1,2&price=3,4")
    assert resp.status_code == 400 and resp.json()["errors"][0]["source"]["path"] == ["query", "price"]


def test_flex_sdk_extras_are_accepted(catalog: tuple[Service, dict[str, str]]) -> None:
    svc, _ = catalog
    params = {"include": "author,images", "fields.image": "variants.square-small", "imageVariant.x": "w:10;h:10"}
    assert len(svc.query(**params)["data"]) == 6


@pytest.mark.parametrize("params", [{}, {"id": "nope"}, {"id": "11111111-1111-4111-8111-111111111111", "x": "1"}])
def test_show_bad_parameters(catalog: tuple[Service, dict[str, str]], params: dict[str, str]) -> None:
    svc, _ = catalog
    resp = svc.public.get("/v1/api/listings/show", params=params)
    assert resp.status_code == 400


def test_unknown_route_uses_error_shape(catalog: tuple[Service, dict[str, str]]) -> None:
    svc, _ = catalog
    resp = svc.public.get("/v1/nope")
    assert resp.status_code == 404 and resp.json()["errors"][0]["code"] == "not-found"


def test_openapi_describes_every_parameter(catalog: tuple[Service, dict[str, str]]) -> None:
    svc, _ = catalog
    spec = svc.public.get("/openapi.json").json()
    params = spec["paths"]["/v1/api/listings/query"]["get"]["parameters"]
    names = {p["name"] for p in params}
    assert names == {
        "keywords",
        "price",
        "ids",
        "authorId",
        "sort",
        "page",
        "perPage",
        "fields.listing",
        "include",
        "limit.images",
        "origin",
        "bounds",
        "start",
        "end",
        "availability",
        "seats",
        "minDuration",
        "minStock",
        "stockMode",
        "facets",
        "facetLimit",
    }
    assert all(p["description"] for p in params)
    show = spec["paths"]["/v1/api/listings/show"]["get"]["parameters"]
    assert {p["name"] for p in show} == {"id", "fields.listing", "include", "limit.images"}
    assert svc.public.get("/docs").status_code == 200
