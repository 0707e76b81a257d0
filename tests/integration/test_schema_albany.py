"""Schema filters on the real Albany data, checked against a brute-force oracle."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import Celery

from tests.support.albany_events import albany_events, listings_of, published
from tests.support.service import Service, running_service

SCHEMAS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("public", "amenities", "multi-enum", {}),
    ("public", "guests", "long", {}),
    ("public", "bedrooms", "long", {"default": 1}),
    ("public", "instantBookable", "boolean", {}),
    ("public", "neighbourhood", "enum", {}),
    ("metadata", "superhost", "boolean", {"default": False}),
    ("metadata", "rating", "long", {}),
]


@pytest.fixture(scope="module")
def albany(engine_url: str, redis_url: str, job_worker: Celery) -> Iterator[tuple[Service, dict[str, dict[str, Any]]]]:
    events = albany_events()
    with running_service(engine_url, redis_url, jobs=job_worker) as svc:
        for i in range(0, len(events), 500):
            svc.send(events[i : i + 500])
        svc.wait_searchable(timeout=120)
        for scope, key, type_, extra in SCHEMAS:
            svc.set_schema(scope, key, type_, **extra)
        # Quick succession: the last change's job (or the one it joined) reflects all of them.
        job = svc.operator.post("/v1/jobs/reindex").json()["id"]
        assert svc.wait_job(job)["state"] == "succeeded"
        svc.services.live.invalidate()
        yield svc, published(listings_of(events))


def oracle(listings: dict[str, dict[str, Any]], test: Callable[[dict[str, Any], dict[str, Any]], bool]) -> set[str]:
    return {lid for lid, a in listings.items() if test(a["publicData"], a["metadata"])}


def test_every_schema_is_live(albany: tuple[Service, dict[str, dict[str, Any]]]) -> None:
    svc, _ = albany
    listed = svc.operator.get("/v1/search-schemas").json()
    assert listed["meta"]["inSync"] is True
    assert len(listed["data"]) == len(SCHEMAS) + 1


def test_listing_type_enum(albany: tuple[Service, dict[str, dict[str, Any]]]) -> None:
    svc, listings = albany
    types = sorted({a["publicData"]["listingType"] for a in listings.values()})
    assert len(types) >= 3
    for t in types:
        assert svc.id_set(pub_listingType=t) == oracle(listings, lambda p, m, t=t: p.get("listingType") == t)
    pair = ",".join(types[:2])
    assert svc.id_set(pub_listingType=pair) == oracle(listings, lambda p, m: p.get("listingType") in types[:2])


def test_amenities_multi_enum(albany: tuple[Service, dict[str, dict[str, Any]]]) -> None:
    svc, listings = albany
    counts: dict[str, int] = {}
    for a in listings.values():
        for am in a["publicData"].get("amenities", []):
            counts[am] = counts.get(am, 0) + 1
    common = sorted(counts, key=lambda k: -counts[k])[:12]
    rng = random.Random(3)
    for _ in range(12):
        picked = rng.sample(common, rng.randint(1, 3))
        want_all = oracle(listings, lambda p, m, s=set(picked): s <= set(p.get("amenities", [])))
        want_any = oracle(listings, lambda p, m, s=set(picked): bool(s & set(p.get("amenities", []))))
        assert svc.id_set(pub_amenities="has_all:" + ",".join(picked)) == want_all
        assert svc.id_set(pub_amenities=",".join(picked)) == want_all
        assert svc.id_set(pub_amenities="has_any:" + ",".join(picked)) == want_any


def test_longs_with_and_without_default(albany: tuple[Service, dict[str, dict[str, Any]]]) -> None:
    svc, listings = albany
    rng = random.Random(5)
    for _ in range(10):
        lo, hi = sorted(rng.sample(range(1, 12), 2))
        assert svc.id_set(pub_guests=f"{lo},{hi}") == oracle(
            listings, lambda p, m, lo=lo, hi=hi: "guests" in p and lo <= p["guests"] < hi
        )
        # bedrooms is missing on some listings: they count as 1.
        assert svc.id_set(pub_bedrooms=f"{lo},{hi}") == oracle(
            listings, lambda p, m, lo=lo, hi=hi: lo <= p.get("bedrooms", 1) < hi
        )
    assert svc.id_set(pub_bedrooms="1") == oracle(listings, lambda p, m: p.get("bedrooms", 1) == 1)
    assert svc.id_set(meta_rating="480,") == oracle(listings, lambda p, m: m.get("rating", -1) >= 480)


def test_booleans(albany: tuple[Service, dict[str, dict[str, Any]]]) -> None:
    svc, listings = albany
    for value in (True, False):
        text = "true" if value else "false"
        assert svc.id_set(pub_instantBookable=text) == oracle(
            listings, lambda p, m, v=value: p.get("instantBookable") is v
        )
        assert svc.id_set(meta_superhost=text) == oracle(listings, lambda p, m, v=value: m.get("superhost", False) is v)


def test_combined_filters_and_long_sort(albany: tuple[Service, dict[str, dict[str, Any]]]) -> None:
    svc, listings = albany
    got = svc.id_set(pub_listingType="Entire home/apt", pub_guests="4,", meta_superhost="true", price=",30000")
    want = {
        lid
        for lid, a in listings.items()
        if a["publicData"].get("listingType") == "Entire home/apt"
        and a["publicData"].get("guests", -1) >= 4
        and a["metadata"].get("superhost", False)
        and a["price"]["amount"] < 30000
    }
    assert got == want and want
    ordered = [d["id"] for d in svc.query(sort="-pub_guests,price", perPage=100)["data"]]
    guests = [listings[lid]["publicData"]["guests"] for lid in ordered]
    assert guests == sorted(guests)
