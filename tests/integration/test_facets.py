"""Facets against the real engine through the HTTP API: a hypothesis property test that the API
agrees exactly with the brute-force oracle (tests/support/facet_oracle.py), the 400s, and Albany by hand.

One running service holds one schema set with a key of every facetable type both with and without
a default; each hypothesis example indexes its own listings under a fresh author and queries with
`authorId`, so examples never see each other's listings and no rebuild is needed per example.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.search_schema import SearchSchema
from tests.support import facet_oracle as oracle
from tests.support.albany_events import albany_events, listings_of, published
from tests.support.events import listing_event, new_id
from tests.support.service import Service, contract_error, running_service

EXAMPLES = 60  # per schema set

SCHEMAS = (
    SearchSchema(key="listingType", scope="public", type="enum"),
    SearchSchema(key="color", scope="public", type="enum", default="red"),
    SearchSchema(key="tags", scope="public", type="multi-enum", default=["a", "b"]),
    SearchSchema(key="feat", scope="metadata", type="multi-enum"),
    SearchSchema(key="ok", scope="public", type="boolean", default=False),
    SearchSchema(key="vip", scope="metadata", type="boolean"),
    SearchSchema(key="n", scope="public", type="long", default=3),
    SearchSchema(key="m", scope="metadata", type="long"),
    SearchSchema(key="blurb", scope="public", type="text"),
)
# The same keys and types with the defaults moved: every type both with and without a default.
SWAPPED_DEFAULTS = (
    SCHEMAS[0],
    SearchSchema(key="color", scope="public", type="enum"),
    SearchSchema(key="tags", scope="public", type="multi-enum"),
    SearchSchema(key="feat", scope="metadata", type="multi-enum", default=["c", "Z"]),
    SearchSchema(key="ok", scope="public", type="boolean"),
    SearchSchema(key="vip", scope="metadata", type="boolean", default=True),
    SearchSchema(key="n", scope="public", type="long"),
    SearchSchema(key="m", scope="metadata", type="long", default=-2),
    SCHEMAS[-1],
)
BY_PARAM = {s.param: s for s in SCHEMAS}
FACETABLE = ("price", *(s.param for s in SCHEMAS if s.type != "text"))
WORDS = ("a", "b", "c", "red", "Z")
_seq = itertools.count(1)


def _serve(engine_url: str, redis_url: str, jobs: Celery, schemas: tuple[SearchSchema, ...]) -> Iterator[Service]:
    with running_service(engine_url, redis_url, jobs=jobs) as service:
        for s in schemas[1:]:
            extra = {} if s.default is None else {"default": s.default}
            service.apply_schema(s.scope, s.key, s.type, **extra)
        yield service


@pytest.fixture(scope="module")
def svc(engine_url: str, redis_url: str, job_worker: Celery) -> Iterator[Service]:
    yield from _serve(engine_url, redis_url, job_worker, SCHEMAS)


@pytest.fixture(scope="module", params=[SCHEMAS, SWAPPED_DEFAULTS], ids=["defaults", "swapped-defaults"])
def schema_svc(
    request: pytest.FixtureRequest, engine_url: str, redis_url: str, job_worker: Celery
) -> Iterator[tuple[Service, dict[str, SearchSchema]]]:
    schemas: tuple[SearchSchema, ...] = request.param
    for service in _serve(engine_url, redis_url, job_worker, schemas):
        yield service, {s.param: s for s in schemas}


# Values as storefronts write them, including wrong-typed ones (which count as missing).
_WRONG = st.sampled_from([5, 1.5, "yes", ["a"], {"x": 1}, True, None])
_VALUE = {
    "enum": st.one_of(st.sampled_from(WORDS), _WRONG),
    "multi-enum": st.one_of(st.lists(st.sampled_from(WORDS), max_size=3), st.just("a"), st.just([1]), st.none()),
    "boolean": st.one_of(st.booleans(), st.just("true"), st.none()),
    "long": st.one_of(st.integers(-4, 6), st.just("7"), st.just(2.5), st.none()),
}


# Listings stand on a 3 x 3 grid and `bounds` edges fall between its lines, so whether an edge is
# inclusive never decides a count (the oracle says inclusive, as the engine's bounding box is).
GRID_LAT = (42.1, 42.2, 42.3)
GRID_LNG = (-71.3, -71.2, -71.1)
EDGES_LAT = (42.05, 42.15, 42.25, 42.35)
EDGES_LNG = (-71.35, -71.25, -71.15, -71.05)


@st.composite
def listing_data(
    draw: st.DrawFn,
) -> tuple[bool, int | None, dict[str, Any], dict[str, Any], tuple[float, float]]:
    pub: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for s in SCHEMAS[:-1]:
        if draw(st.booleans()):  # else the key is absent
            (pub if s.scope == "public" else meta)[s.key] = draw(_VALUE[s.type])
    price = draw(st.one_of(st.none(), st.sampled_from([0, 100, 250, 1000, 4000])))
    geo = (draw(st.sampled_from(GRID_LAT)), draw(st.sampled_from(GRID_LNG)))
    return draw(st.booleans() | st.just(True)), price, pub, meta, geo


@st.composite
def a_box(draw: st.DrawFn) -> tuple[float, float, float, float]:
    south, north = sorted(draw(st.lists(st.sampled_from(EDGES_LAT), min_size=2, max_size=2, unique=True)))
    west, east = sorted(draw(st.lists(st.sampled_from(EDGES_LNG), min_size=2, max_size=2, unique=True)))
    return north, east, south, west


@st.composite
def a_filter(draw: st.DrawFn, key: str) -> tuple[oracle.Filter, str]:
    """One filter in the oracle's terms and as the API spells it."""
    if key == "price" or BY_PARAM[key].type == "long":
        low = draw(st.none() | st.integers(-3, 1000))
        high = draw(st.none() | st.integers(-3, 1001))
        if low is not None and high is not None and high <= low:
            high = low + 1
        if key == "price" and low is not None and low < 0:
            low = 0
        if low is None and high is None:
            low = 0
        if key == "price" and high is not None and high <= (low or 0):
            high = (low or 0) + 1
        raw = f"{'' if low is None else low},{'' if high is None else high}"
        return oracle.Filter(key, "range", low=low, high=high), raw
    kind = BY_PARAM[key].type
    if kind == "boolean":
        value = draw(st.booleans())
        return oracle.Filter(key, "bool", (value,)), str(value).lower()
    values = tuple(dict.fromkeys(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))))
    if kind == "enum":
        return oracle.Filter(key, "any", values), ",".join(values)
    prefix = draw(st.sampled_from(["has_any:", "has_all:", ""]))
    return oracle.Filter(key, "any" if prefix == "has_any:" else "all", values), prefix + ",".join(values)


@st.composite
def a_query(draw: st.DrawFn, ids: list[str]) -> tuple[oracle.Query, dict[str, str]]:
    facets = tuple(draw(st.lists(st.sampled_from(FACETABLE), min_size=1, max_size=5, unique=True)))
    # Filters mostly on faceted keys (own-filter rules) and some on others.
    own = draw(st.lists(st.sampled_from(facets), min_size=1, max_size=2, unique=True))
    other = draw(st.lists(st.sampled_from([k for k in FACETABLE if k not in own]), max_size=1))
    keys = own + other
    filters = [draw(a_filter(k)) for k in keys]
    chosen = draw(st.none() | st.sets(st.sampled_from(ids), min_size=1)) if ids else None
    limit = draw(st.sampled_from([1, 2, 20]))
    box = draw(st.none() | a_box())
    params = {k: raw for (f, raw), k in zip(filters, keys, strict=True)}
    params["facets"] = ",".join(facets)
    params["facetLimit"] = str(limit)
    if chosen is not None:
        params["ids"] = ",".join(sorted(chosen))
    if box is not None:
        params["bounds"] = ",".join(str(v) for v in box)
    q = oracle.Query(
        tuple(f for f, _ in filters), None if chosen is None else frozenset(chosen), facets, limit, BY_PARAM, box
    )
    return q, params


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), rows=st.lists(listing_data(), max_size=10))
def test_facets_match_the_oracle(
    schema_svc: tuple[Service, dict[str, SearchSchema]], data: st.DataObject, rows: list[Any]
) -> None:
    svc, schemas = schema_svc
    author = new_id()
    listings, events = [], []
    for published_, price, pub, meta, (lat, lng) in rows:
        lid = new_id()
        ev = listing_event(
            next(_seq) + 10_000_000,
            lid,
            event_type="listing/created",
            state="published" if published_ else "closed",
            price=price,
            author_id=author,
            public_data=pub,
        )
        ev["attributes"]["resource"]["attributes"]["metadata"] = meta
        ev["attributes"]["resource"]["attributes"]["geolocation"] = {"lat": lat, "lng": lng}
        events.append(ev)
        listings.append(oracle.Listing(lid, published_, price, pub, meta, (lat, lng)))
    if events:
        svc.send(events)
        svc.wait_searchable()
    for _ in range(3):
        drawn, params = data.draw(a_query([x.id for x in listings]))
        q = oracle.Query(drawn.filters, drawn.ids, drawn.facets, drawn.limit, schemas, drawn.bounds)
        body = svc.query(authorId=author, **params)
        expected = oracle.facets(q, listings)
        assert body["meta"]["facets"] == expected, (params, rows)
        assert {d["id"] for d in body["data"]} == oracle.results(q, listings)
        assert body["meta"]["totalItems"] == len(oracle.results(q, listings))
        # Paging never changes facets.
        second = svc.query(authorId=author, perPage=1, page=2, **params)
        assert second["meta"]["facets"] == expected


def test_facets_do_not_change_results_or_paging(svc: Service) -> None:
    author = new_id()
    events = [
        listing_event(next(_seq) + 20_000_000, new_id(), event_type="listing/created", author_id=author, price=p)
        for p in (100, 200, 300)
    ]
    svc.send(events)
    svc.wait_searchable()
    plain = svc.query(authorId=author, price="150,", perPage=1)
    faceted = svc.query(authorId=author, price="150,", perPage=1, facets="price,pub_color")
    assert faceted["data"] == plain["data"]
    assert {k: v for k, v in faceted["meta"].items() if k != "facets"} == plain["meta"]
    assert "facets" not in plain["meta"]
    assert faceted["meta"]["facets"] == {
        "price": {"min": 100, "max": 300, "count": 3},
        "pub_color": {"values": [{"value": "red", "count": 2}], "otherValues": 0},
    }


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"facets": "pub_nope"}, "facets"),
        ({"facets": "pub_blurb"}, "facets"),
        ({"facets": "title"}, "facets"),
        ({"facets": ""}, "facets"),
        ({"facets": "price,,pub_color"}, "facets"),
        ({"facets": ",".join(["price", *FACETABLE[1:], "price"]) + ",pub_x1,pub_x2"}, "facets"),
        ({"facets": "price", "facetLimit": "0"}, "facetLimit"),
        ({"facets": "price", "facetLimit": "101"}, "facetLimit"),
        ({"facets": "price", "facetLimit": "ten"}, "facetLimit"),
        ({"cursor": "abc"}, "cursor"),
    ],
)
def test_bad_facet_parameters_are_400(svc: Service, params: dict[str, str], path: str) -> None:
    resp = svc.public.get("/v1/api/listings/query", params=params)
    contract_error(resp, 400, ["query", path])


@pytest.fixture(scope="module")
def albany(engine_url: str, redis_url: str, job_worker: Celery) -> Iterator[tuple[Service, dict[str, Any]]]:
    events = albany_events()
    listings = published(listings_of(events))
    with running_service(engine_url, redis_url, jobs=job_worker) as service:
        for i in range(0, len(events), 500):
            service.send(events[i : i + 500])
        service.wait_searchable(timeout=120)
        service.apply_schema("public", "amenities", "multi-enum")
        service.apply_schema("public", "instantBookable", "boolean")
        yield service, listings


def test_albany_listing_types_and_price_range(albany: tuple[Service, dict[str, Any]]) -> None:
    svc, listings = albany
    assert len(listings) == 384
    # "Private room" ticked and a price floor of $50: the type counts ignore the type filter but
    # honour the price one; the price slider ignores the floor but stays within private rooms.
    body = svc.query(pub_listingType="Private room", price="5000,", facets="pub_listingType,price", perPage=1)
    assert body["meta"]["totalItems"] == 83
    assert body["meta"]["facets"] == {
        "pub_listingType": {
            "values": [{"value": "Entire home/apt", "count": 278}, {"value": "Private room", "count": 83}],
            "otherValues": 0,
        },
        "price": {"min": 2400, "max": 25000, "count": 105},
    }
    # No filters: all three types, the whole price range.
    every = svc.query(facets="pub_listingType,price", facetLimit=2, perPage=1)["meta"]["facets"]
    assert every["pub_listingType"] == {
        "values": [{"value": "Entire home/apt", "count": 278}, {"value": "Private room", "count": 105}],
        "otherValues": 1,
    }
    assert every["price"] == {"min": 2400, "max": 137900, "count": 384}


def test_albany_amenities_within_a_type(albany: tuple[Service, dict[str, Any]]) -> None:
    svc, listings = albany
    body = svc.query(pub_listingType="Private room", facets="pub_amenities,pub_instantBookable", facetLimit=3)
    rooms = [a["publicData"] for a in listings.values() if a["publicData"]["listingType"] == "Private room"]
    amenities = Counter(x for p in rooms for x in set(p["amenities"]))
    top = sorted(amenities.items(), key=lambda kv: (-kv[1], kv[0]))
    assert body["meta"]["facets"]["pub_amenities"] == {
        "values": [{"value": v, "count": c} for v, c in top[:3]],
        "otherValues": len(top) - 3,
    }
    instant = Counter(p["instantBookable"] for p in rooms)
    assert body["meta"]["facets"]["pub_instantBookable"]["values"] == [
        {"value": v, "count": c} for v, c in sorted(instant.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _index(svc: Service, rows: list[dict[str, Any]]) -> str:
    author = new_id()
    events = [
        listing_event(next(_seq) + 30_000_000, new_id(), event_type="listing/created", author_id=author, public_data=p)
        for p in rows
    ]
    svc.send(events)
    svc.wait_searchable()
    return author


def test_own_filter_is_ignored_only_for_disjunctive_choices(svc: Service) -> None:
    author = _index(svc, [{"color": "a", "tags": ["a", "c"]}, {"color": "b", "tags": ["c"]}, {"tags": ["a"]}])
    colors = svc.query(authorId=author, pub_color="a", facets="pub_color")["meta"]["facets"]["pub_color"]
    # The listing without a colour counts under the default "red".
    assert colors["values"] == [{"value": "a", "count": 1}, {"value": "b", "count": 1}, {"value": "red", "count": 1}]
    any_tags = svc.query(authorId=author, pub_tags="has_any:a", facets="pub_tags")["meta"]["facets"]["pub_tags"]
    assert any_tags["values"] == [{"value": "a", "count": 2}, {"value": "c", "count": 2}]
    all_tags = svc.query(authorId=author, pub_tags="has_all:a", facets="pub_tags")["meta"]["facets"]["pub_tags"]
    assert all_tags["values"] == [{"value": "a", "count": 2}, {"value": "c", "count": 1}]


@pytest.mark.parametrize(
    "narrowing",
    [
        {"keywords": "cozy"},
        {"bounds": "42.70,-73.70,42.60,-73.85"},
        {"start": "+30", "end": "+33", "availability": "day-full"},
        {"start": "+30", "end": "+37", "availability": "day-partial", "minDuration": "3"},
    ],
    ids=["keywords", "bounds", "dates", "dates-partial"],
)
def test_albany_counts_honour_keywords_bounds_and_dates(
    albany: tuple[Service, dict[str, Any]], narrowing: dict[str, str]
) -> None:
    """Filters that are not facets apply to every count: with no listing-type filter and every
    published listing having a type, the type counts add up to exactly the results."""
    from datetime import UTC, datetime, timedelta

    svc, _ = albany
    params = dict(narrowing)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for key in ("start", "end"):
        if key in params:
            params[key] = (today + timedelta(days=int(params[key]))).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    body = svc.query(facets="pub_listingType,price", facetLimit=100, perPage=1, **params)
    total = body["meta"]["totalItems"]
    facets = body["meta"]["facets"]
    assert 0 < total < 384, total  # the filter narrows, and leaves something to count
    assert sum(v["count"] for v in facets["pub_listingType"]["values"]) == total
    assert facets["pub_listingType"]["otherValues"] == 0
    assert facets["price"]["count"] <= total
