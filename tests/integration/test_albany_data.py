"""Real data: the shipped Albany set through the same intake, salted with listings that must never show.

Checks the price filter and sorting against a brute-force oracle computed from the events, and
that no public path ever shows a hidden listing or any privateData.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from indexer.airbnb_import import DEMO_DATA_DIR, iter_events, load_dataset
from tests.support import Service, listing_event, new_id, running_service

SECRET = "never-public-7f3a"


@pytest.fixture(scope="module")
def albany(engine_url: str, redis_url: str) -> Iterator[tuple[Service, dict[str, dict[str, Any]], set[str]]]:
    ds = load_dataset(DEMO_DATA_DIR)
    events = list(iter_events(ds, today=date(2026, 11, 22), first_seq=1))
    listings: dict[str, dict[str, Any]] = {}
    for ev in events:
        a = ev["attributes"]
        if a["eventType"] == "listing/created":
            a["resource"]["attributes"]["privateData"] = {"note": SECRET}
            listings[a["resourceId"]] = a["resource"]["attributes"]
    hidden: set[str] = set()
    seq = len(events)
    # Salt: copies of real listings in every hidden state, with words that also match real ones.
    for state, lid in zip(
        ["draft", "pendingApproval", "closed", "deleted"] * 5, (new_id() for _ in range(20)), strict=True
    ):
        seq += 1
        title = f"Cozy room near downtown Albany {state}"
        hidden.add(lid)
        events.append(
            listing_event(
                seq,
                lid,
                event_type="listing/created",
                title=title,
                price=5000,
                state="published" if state == "deleted" else state,
                private_data={"note": SECRET},
            )
        )
        if state == "deleted":
            seq += 1
            events.append(listing_event(seq, lid, event_type="listing/deleted"))
    with running_service(engine_url, redis_url) as svc:
        for i in range(0, len(events), 500):
            result = svc.send(events[i : i + 500])
            assert result["deadLettered"] == 0
        svc.wait_searchable(timeout=120)
        yield svc, listings, hidden


def published(listings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {lid: a for lid, a in listings.items() if a["state"] == "published" and not a["deleted"]}


def test_everything_published_is_there(albany: tuple[Service, dict[str, dict[str, Any]], set[str]]) -> None:
    svc, listings, _ = albany
    expected = published(listings)
    assert len(expected) == 384
    assert set(svc.all_ids()) == set(expected)


def test_price_filter_matches_oracle(albany: tuple[Service, dict[str, dict[str, Any]], set[str]]) -> None:
    svc, listings, _ = albany
    pub = published(listings)
    prices = sorted({a["price"]["amount"] for a in pub.values()})
    rng = random.Random(7)
    for _ in range(25):
        lo, hi = sorted(rng.sample(prices, 2))
        got = set(svc.all_ids(price=f"{lo},{hi}"))
        assert got == {lid for lid, a in pub.items() if lo <= a["price"]["amount"] < hi}, (lo, hi)
        assert set(svc.all_ids(price=f"{lo},")) == {lid for lid, a in pub.items() if a["price"]["amount"] >= lo}
        assert set(svc.all_ids(price=f",{hi}")) == {lid for lid, a in pub.items() if a["price"]["amount"] < hi}
        assert set(svc.all_ids(price=str(lo))) == {lid for lid, a in pub.items() if a["price"]["amount"] == lo}


def test_sorts_match_oracle(albany: tuple[Service, dict[str, dict[str, Any]], set[str]]) -> None:
    svc, listings, _ = albany
    pub = published(listings)
    by_price = svc.all_ids(sort="-price")
    amounts = [pub[lid]["price"]["amount"] for lid in by_price]
    assert amounts == sorted(amounts)
    assert [pub[lid]["price"]["amount"] for lid in svc.all_ids(sort="price")] == sorted(amounts, reverse=True)
    newest = svc.all_ids()
    created = [pub[lid]["createdAt"] for lid in newest]
    assert created == sorted(created, reverse=True)
    # Pages of a multi-key sort are a partition of the whole result, in the same order.
    paged = svc.all_ids(sort="-price,createdAt")
    assert len(paged) == len(set(paged)) == len(pub)


QUERIES: list[dict[str, Any]] = [
    {},
    {"keywords": "cozy room downtown albany"},
    {"keywords": "draft closed pendingApproval deleted"},
    {"keywords": SECRET},
    {"price": "5000"},
    {"price": "4000,6000", "sort": "-price"},
    {"sort": "createdAt,-price"},
    {"fields.listing": "title,publicData.listingType"},
    {"perPage": 5, "page": 3},
]


def test_no_hidden_listing_or_private_data_on_any_public_path(
    albany: tuple[Service, dict[str, dict[str, Any]], set[str]],
) -> None:
    svc, listings, hidden = albany
    unpublished = {lid for lid, a in listings.items() if a["state"] != "published"} | hidden
    assert len(unpublished) == 37 + 20
    bodies = [svc.public.get("/v1/api/listings/query", params=q) for q in QUERIES]
    some_real = list(published(listings))[:50]
    asked = sorted(unpublished) + some_real
    for i in range(0, len(asked), 100):
        bodies.append(svc.public.get("/v1/api/listings/query", params={"ids": ",".join(asked[i : i + 100])}))
    bodies += [svc.public.get("/v1/api/listings/show", params={"id": lid}) for lid in sorted(unpublished)]
    bodies += [svc.public.get("/v1/api/listings/show", params={"id": lid}) for lid in some_real[:5]]
    for resp in bodies:
        assert resp.status_code in (200, 404), resp.text
        assert SECRET not in resp.text and "privateData" not in resp.text
        data = resp.json().get("data")
        shown = [data["id"]] if isinstance(data, dict) else [d["id"] for d in data or []]
        assert not unpublished & set(shown)
        for item in data if isinstance(data, list) else [data] if data else []:
            assert item["attributes"].get("state", "published") == "published"
