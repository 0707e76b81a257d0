"""Real data: the shipped Albany set through the same intake, salted with listings that must never show.

Checks the price filter and sorting against a brute-force oracle computed from the events, and
that no public path ever shows a hidden listing or any privateData.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from schemas.availability import utc_today
from tests.support.albany_events import albany_events, listings_of, published
from tests.support.events import listing_event, new_id
from tests.support.service import Service, running_service

SECRET = "never-public-7f3a"
HIDDEN_STATES = ("draft", "pendingApproval", "closed", "deleted")
TWINNED = 12  # published listings that get a hidden twin in every hidden state


@dataclass
class Salted:
    svc: Service
    listings: dict[str, dict[str, Any]]  # the Albany listings (attributes), drafts included
    hidden: set[str]  # every listing that must never show
    twin_of: dict[str, str]  # hidden twin -> the published listing it copies


def _twin(seq: int, original_id: str, original: dict[str, Any], state: str) -> tuple[str, list[dict[str, Any]]]:
    """A copy of a published listing (text, price, place, plan, extended data, author) in a hidden
    state, with privateData and stock: whatever finds the original would find it, were it visible."""
    lid = new_id()
    created = listing_event(seq, lid, event_type="listing/created")
    resource = created["attributes"]["resource"]
    resource["attributes"] = {**copy.deepcopy(original), "privateData": {"note": SECRET}}
    resource["attributes"]["state"] = "published" if state == "deleted" else state
    resource["relationships"]["currentStock"] = {"quantity": 50}
    events = [created]
    if state == "deleted":
        events.append(listing_event(seq + 1, lid, event_type="listing/deleted"))
    return lid, events


@pytest.fixture(scope="module")
def albany(engine_url: str, redis_url: str) -> Iterator[Salted]:
    events = albany_events()
    listings = listings_of(events)
    for ev in events:
        if ev["attributes"]["eventType"] == "listing/created":
            ev["attributes"]["resource"]["attributes"]["privateData"] = {"note": SECRET}
    hidden = {lid for lid, a in listings.items() if a["state"] != "published"}
    seq = len(events)
    # Salt: listings in every hidden state whose words also match real ones...
    for state in HIDDEN_STATES * 5:
        seq += 2
        lid = new_id()
        hidden.add(lid)
        events.append(
            listing_event(
                seq,
                lid,
                event_type="listing/created",
                title=f"Cozy room near downtown Albany {state}",
                price=5000,
                state="published" if state == "deleted" else state,
                private_data={"note": SECRET},
            )
        )
        if state == "deleted":
            events.append(listing_event(seq + 1, lid, event_type="listing/deleted"))
    # ...and twins of real published listings, in every hidden state.
    twin_of: dict[str, str] = {}
    for original_id in random.Random(3).sample(sorted(published(listings)), TWINNED):
        for state in HIDDEN_STATES:
            seq += 2
            lid, twin_events = _twin(seq, original_id, listings[original_id], state)
            twin_of[lid] = original_id
            hidden.add(lid)
            events += twin_events
    with running_service(engine_url, redis_url) as svc:
        for i in range(0, len(events), 500):
            result = svc.send(events[i : i + 500])
            assert result["deadLettered"] == 0
        svc.wait_searchable(timeout=120)
        yield Salted(svc, listings, hidden, twin_of)


def test_everything_published_is_there(albany: Salted) -> None:
    svc, listings = albany.svc, albany.listings
    expected = published(listings)
    assert len(expected) == 384
    assert set(svc.all_ids()) == set(expected)


def test_price_filter_matches_oracle(albany: Salted) -> None:
    svc, listings = albany.svc, albany.listings
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


def test_sorts_match_oracle(albany: Salted) -> None:
    svc, listings = albany.svc, albany.listings
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


FIXED_QUERIES: list[dict[str, Any]] = [
    {},
    {"keywords": "cozy room downtown albany"},
    {"keywords": "draft closed pendingApproval deleted"},
    {"keywords": SECRET},
    {"keywords": "note"},
    {"price": "5000"},
    {"price": "4000,6000", "sort": "-price"},
    {"sort": "createdAt,-price"},
    {"fields.listing": "title,publicData.listingType"},
    {"perPage": 5, "page": 3},
    {"minStock": "1"},
    {"minStock": "50", "stockMode": "match-undefined"},
    {"bounds": "43,-73,42,-74.5"},
    {"origin": "42.65,-73.75", "perPage": 100},
]


def _window(rng: random.Random) -> dict[str, str]:
    start = utc_today() + timedelta(days=rng.randint(0, 300))
    end = start + timedelta(days=rng.randint(1, 60))
    return {"start": start.isoformat(), "end": end.isoformat()}


def aimed_queries(
    rng: random.Random, original: dict[str, Any], twin_ids: list[str], original_id: str
) -> dict[str, Any]:
    """A random combination of filters, sorts and paging, each chosen to match `original` (and so
    its hidden twins, were they visible)."""
    lat, lng = original["geolocation"]["lat"], original["geolocation"]["lng"]
    price = original["price"]["amount"]
    words = original["title"].split()
    choices: dict[str, Any] = {
        "keywords": lambda: {"keywords": " ".join(rng.sample(words, min(len(words), rng.randint(1, 3))))},
        "price": lambda: rng.choice(
            [{"price": str(price)}, {"price": f"{price},{price + 1}"}, {"price": f",{price + 100}"}]
        ),
        "ids": lambda: {"ids": ",".join([original_id, *twin_ids])},
        "authorId": lambda: {"authorId": original["authorId"]} if original.get("authorId") else {},
        "bounds": lambda: {"bounds": f"{lat + 0.01},{lng + 0.01},{lat - 0.01},{lng - 0.01}"},
        "origin": lambda: {"origin": f"{lat},{lng}"},
        "availability": lambda: {
            **_window(rng),
            **rng.choice(
                [{}, {"availability": "day-partial", "minDuration": "1"}, {"availability": "day-full", "seats": "1"}]
            ),
        },
        "stock": lambda: rng.choice(
            [{"minStock": "0", "stockMode": "match-undefined"}, {"minStock": "1", "stockMode": "match-undefined"}]
        ),
        "listingType": lambda: {"pub_listingType": original["publicData"]["listingType"]},
        "sort": lambda: {"sort": rng.choice(["-price", "price", "createdAt,-price", "-createdAt"])},
        "fields": lambda: {"fields.listing": rng.choice(["title", "title,publicData.listingType,price", "metadata"])},
        "paging": lambda: {"perPage": str(rng.choice([10, 50, 100])), "page": str(rng.choice([1, 1, 2]))},
    }
    params: dict[str, Any] = {}
    for name in rng.sample(sorted(choices), rng.randint(1, 5)):
        params.update(choices[name]())
    return params


def _shown(resp: Any) -> list[dict[str, Any]]:
    data = resp.json().get("data")
    return [data] if isinstance(data, dict) else list(data or [])


def test_no_hidden_listing_or_private_data_on_any_public_path(albany: Salted) -> None:
    """Every public path and parameter family on data salted with hidden listings (drafts, pending,
    closed and deleted twins of real ones), none of which may ever show, nor any privateData."""
    svc, listings, hidden = albany.svc, albany.listings, albany.hidden
    assert len(hidden) == 37 + 20 + TWINNED * len(HIDDEN_STATES)
    twins: dict[str, list[str]] = {}
    for twin, original_id in albany.twin_of.items():
        twins.setdefault(original_id, []).append(twin)
    rng = random.Random(11)
    queries = list(FIXED_QUERIES)
    aimed: list[tuple[str, dict[str, Any]]] = []
    for original_id, twin_ids in sorted(twins.items()):
        for _ in range(15):
            aimed.append((original_id, aimed_queries(rng, listings[original_id], twin_ids, original_id)))
    responses = [svc.public.get("/v1/api/listings/query", params=q) for q in queries]
    aimed_responses = [svc.public.get("/v1/api/listings/query", params=q) for _, q in aimed]
    asked = sorted(hidden) + sorted(twins)
    for i in range(0, len(asked), 100):
        responses.append(svc.public.get("/v1/api/listings/query", params={"ids": ",".join(asked[i : i + 100])}))
    shows = [svc.public.get("/v1/api/listings/show", params={"id": lid}) for lid in sorted(hidden)]
    originals = [svc.public.get("/v1/api/listings/show", params={"id": lid}) for lid in sorted(twins)]
    assert all(r.status_code == 404 for r in shows) and all(r.status_code == 200 for r in originals)
    found_original = 0
    for resp in responses + aimed_responses + shows + originals:
        assert resp.status_code in (200, 404), resp.text
        assert SECRET not in resp.text and "privateData" not in resp.text
        shown = _shown(resp)
        assert not hidden & {d["id"] for d in shown}
        assert all(d["attributes"].get("state", "published") == "published" for d in shown)
    for (original_id, _), resp in zip(aimed, aimed_responses, strict=True):
        found_original += original_id in {d["id"] for d in _shown(resp)}
    # The aimed queries did reach what the twins copy: visibility alone kept the twins out.
    assert found_original >= len(aimed) // 3, (found_original, len(aimed))
