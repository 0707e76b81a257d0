"""Geo order and boxes against brute force; stock from out-of-order events against in-order replay."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.events import listing_event, new_id, stock_event
from tests.support.service import Service, running_service


def haversine(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(a))


def in_box(lat: float, lng: float, ne_lat: float, ne_lng: float, sw_lat: float, sw_lng: float) -> bool:
    if not sw_lat <= lat <= ne_lat:
        return False
    return sw_lng <= lng <= ne_lng if sw_lng <= ne_lng else (lng >= sw_lng or lng <= ne_lng)


@pytest.fixture(scope="module")
def places(engine_url: str, redis_url: str) -> Iterator[tuple[Service, dict[str, tuple[float, float]]]]:
    rng = random.Random(9)
    points: dict[str, tuple[float, float]] = {}
    events = []
    clusters = [(42.65, -73.75, 0.3), (-17.0, 179.5, 2.0), (-15.0, -179.0, 2.0), (60.17, 24.94, 1.0), (0, 0, 40)]
    for i in range(120):
        lat0, lng0, spread = rng.choice(clusters)
        lat = max(-89.9, min(89.9, lat0 + rng.uniform(-spread, spread)))
        lng = lng0 + rng.uniform(-spread, spread)
        lng = (lng + 180) % 360 - 180
        lid = new_id()
        points[lid] = (lat, lng)
        ev = listing_event(i + 1, lid, event_type="listing/created", title=f"Place {i}")
        ev["attributes"]["resource"]["attributes"]["geolocation"] = {"lat": lat, "lng": lng}
        events.append(ev)
    nowhere = new_id()
    ev = listing_event(500, nowhere, event_type="listing/created", title="Nowhere")
    ev["attributes"]["resource"]["attributes"]["geolocation"] = None
    events.append(ev)
    with running_service(engine_url, redis_url) as svc:
        svc.send(events)
        svc.wait_searchable()
        yield svc, points


@pytest.mark.parametrize("origin", [(42.6, -73.7), (-16.0, -179.9), (0.0, 0.0), (60.0, 25.0), (-89.0, 10.0)])
def test_distance_order_is_haversine_order(
    places: tuple[Service, dict[str, tuple[float, float]]], origin: tuple[float, float]
) -> None:
    svc, points = places
    got = svc.all_ids(origin=f"{origin[0]},{origin[1]}")
    assert len(got) == len(points) + 1
    assert got[:-1] == sorted(points, key=lambda lid: haversine(*origin, *points[lid]))
    assert got[-1] not in points  # no location: last


def test_origin_with_keywords_and_explicit_sort(places: tuple[Service, dict[str, tuple[float, float]]]) -> None:
    svc, points = places
    near = svc.all_ids(origin="42.6,-73.7", keywords="place")
    assert near == sorted(near, key=lambda lid: haversine(42.6, -73.7, *points[lid]))
    # An explicit sort wins; distance only breaks its ties (all these share one createdAt).
    newest = svc.all_ids(origin="42.6,-73.7", sort="createdAt")
    assert newest[:-1] == sorted(points, key=lambda lid: haversine(42.6, -73.7, *points[lid]))
    by_price = svc.all_ids(origin="42.6,-73.7", sort="price")
    assert by_price[:-1] == sorted(points, key=lambda lid: haversine(42.6, -73.7, *points[lid]))


@pytest.mark.parametrize(
    "box",
    [
        (43.0, -73.5, 42.3, -74.1),
        (0.0, -175.0, -30.0, 175.0),  # crosses the antimeridian
        (10.0, -178.0, -20.0, 178.5),  # crosses it too
        (90.0, 180.0, -90.0, -180.0),  # the whole world
        (61.0, 26.0, 59.0, 23.0),
        (1.0, 1.0, 0.5, 0.5),
    ],
)
def test_bounds_match_brute_force(
    places: tuple[Service, dict[str, tuple[float, float]]], box: tuple[float, float, float, float]
) -> None:
    svc, points = places
    got = set(svc.all_ids(bounds=",".join(map(str, box))))
    assert got == {lid for lid, (lat, lng) in points.items() if in_box(lat, lng, *box)}


def replay_stock(events: list[dict[str, Any]]) -> dict[str, int | None]:
    """Flex's stock, replayed in sequenceId order (Sharetribe docs, references/stock): a listing's
    stock is the sum of its stock adjustments, whatever their order of arrival. A reservation's
    effect arrives as adjustments, so reservations themselves never count. A stock total seen in a
    listing resource stands for adjustments the events never showed: one hidden adjustment of the
    difference. An edit sets an adjustment's quantity; a deletion removes it."""
    adjustments: dict[str, dict[str, int]] = {}  # listing -> adjustment id -> quantity
    seen: dict[str, bool] = {}  # listing -> stock defined
    for ev in sorted(events, key=lambda e: e["attributes"]["sequenceId"]):
        a = ev["attributes"]
        res = a["resource"]
        if a["eventType"].startswith("listing/"):
            seen.setdefault(a["resourceId"], False)
            total = (res["relationships"].get("currentStock") or {}).get("quantity")
            if total is not None:
                mine = adjustments.setdefault(a["resourceId"], {})
                mine[f"hidden-{a['sequenceId']}"] = total - sum(mine.values())
                seen[a["resourceId"]] = True
            continue
        if not a["eventType"].startswith("stockAdjustment/"):
            continue  # stockReservation/*: already counted through its adjustments
        lid = (res or a["previousValues"])["relationships"]["listing"]["data"]["id"]
        mine = adjustments.setdefault(lid, {})
        if a["eventType"] == "stockAdjustment/deleted":
            mine.pop(a["resourceId"], None)
        else:
            mine[a["resourceId"]] = res["attributes"]["quantity"]
        seen[lid] = True
    return {lid: sum(adjustments.get(lid, {}).values()) if defined else None for lid, defined in seen.items()}


def test_stock_from_out_of_order_events(engine_url: str, redis_url: str) -> None:
    rng = random.Random(4)
    events: list[dict[str, Any]] = []
    seq = 0
    listings = [new_id() for _ in range(25)]
    live: dict[str, tuple[str, int]] = {}  # adjustment id -> (listing, quantity), as the generator goes

    def created(ev: dict[str, Any]) -> None:
        events.append(ev)
        res = ev["attributes"]["resource"]
        live[res["id"]] = (res["relationships"]["listing"]["data"]["id"], res["attributes"]["quantity"])

    for i, lid in enumerate(listings):
        seq += 1
        ev = listing_event(seq, lid, event_type="listing/created")
        if i % 3 == 0:
            ev["attributes"]["resource"]["relationships"]["currentStock"] = {"quantity": rng.randint(0, 10)}
        events.append(ev)
    for _ in range(150):
        seq += 1
        lid = rng.choice(listings[:20])  # the last five never get stock: undefined
        roll = rng.random()
        if roll < 0.5:
            created(stock_event(seq, "stockAdjustment", lid, rng.randint(-3, 6)))
        elif roll < 0.6 and live:
            # An admin edits or deletes any adjustment, also one a stock total already includes;
            # previousValues holds its quantity before (references/events).
            aid = rng.choice(sorted(live))
            old_lid, old_quantity = live[aid]
            if rng.random() < 0.5:
                edited = stock_event(seq, "stockAdjustment", old_lid, rng.randint(-3, 6), resource_id=aid)
                edited["attributes"]["eventType"] = "stockAdjustment/updated"
                edited["attributes"]["previousValues"] = {"attributes": {"quantity": old_quantity}}
                events.append(edited)
                live[aid] = (old_lid, edited["attributes"]["resource"]["attributes"]["quantity"])
            else:
                gone = stock_event(seq, "stockAdjustment", old_lid, 0, resource_id=aid)
                gone["attributes"]["eventType"] = "stockAdjustment/deleted"
                gone["attributes"]["previousValues"] = {
                    "attributes": {"quantity": old_quantity},
                    "relationships": gone["attributes"]["resource"]["relationships"],
                }
                gone["attributes"]["resource"] = None
                events.append(gone)
                del live[aid]
        elif roll < 0.85:
            # A reservation as Flex records it: the reservation's own events (which do not change
            # stock) and, as it takes and gives back stock, adjustments (references/stock).
            rid = str(uuid.uuid4())
            quantity = rng.randint(1, 2)
            events.append(stock_event(seq, "stockReservation", lid, quantity, state="pending", resource_id=rid))
            seq += 1
            created(stock_event(seq, "stockAdjustment", lid, -quantity))
            seq += 1
            final = rng.choice(["accepted", "declined", "cancelled", "pending"])
            events.append(
                stock_event(seq, "stockReservation", lid, quantity, state=final, resource_id=rid, event="updated")
            )
            if final in ("declined", "cancelled"):
                seq += 1
                created(stock_event(seq, "stockAdjustment", lid, quantity))
        else:
            snap = listing_event(seq, lid)
            snap["attributes"]["resource"]["relationships"]["currentStock"] = {"quantity": rng.randint(0, 10)}
            events.append(snap)
    expected = replay_stock(events)
    shuffled = events + events[:20]
    rng.shuffle(shuffled)
    with running_service(engine_url, redis_url) as svc:
        for i in range(0, len(shuffled), 37):
            svc.send(shuffled[i : i + 37])
        svc.wait_searchable()
        # Every threshold across the range: the set at each one pins every listing's exact stock.
        known = [v for v in expected.values() if v is not None]
        for n in range(max(min(known), 0), max(known) + 2):
            want = {lid for lid, s in expected.items() if s is not None and s >= n}
            assert set(svc.ids(minStock=n)) == want, n
            undefined = {lid for lid, s in expected.items() if s is None}
            assert set(svc.ids(minStock=n, stockMode="match-undefined")) == want | undefined
            assert set(svc.ids(minStock=n, stockMode="strict")) == want
        assert undefined == {lid for i, lid in enumerate(listings) if i >= 20 and i % 3}
