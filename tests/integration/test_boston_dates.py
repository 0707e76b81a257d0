"""The Boston data (4,325 listings, 21,063 unavailable runs): date queries match the oracle, and
facets give the numbers counted by hand from Inside Airbnb's CSV."""

from __future__ import annotations

import csv
import gzip
import os
import random
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from listing_search.demo.airbnb_import import iter_events, load_dataset
from schemas.availability import horizon, parse_minutes, utc_today
from tests.support.availability_oracle import matches
from tests.support.events import iso
from tests.support.service import Service, running_service


def boston_dir() -> Path:
    shared = os.environ.get("LISTING_SEARCH_SHARED_DATA")
    base = Path(shared) if shared else Path(__file__).resolve().parents[3] / "shared" / "data"
    return base / "boston"


@pytest.fixture(scope="module")
def boston(engine_url: str, redis_url: str) -> Iterator[tuple[Service, dict[str, dict[str, Any]]]]:
    if not (boston_dir() / "listings_search.csv.gz").exists():
        pytest.skip(f"the Boston data is not at {boston_dir()} (set LISTING_SEARCH_SHARED_DATA)")
    events = list(iter_events(load_dataset(boston_dir()), today=utc_today(), first_seq=1))
    listings: dict[str, dict[str, Any]] = {}
    for ev in events:
        a = ev["attributes"]
        if a["eventType"] == "listing/created":
            attrs = a["resource"]["attributes"]
            if attrs["state"] == "published":
                listings[a["resourceId"]] = {"plan": attrs["availabilityPlan"], "exceptions": []}
        else:
            res = a["resource"]
            lid = res["relationships"]["listing"]["data"]["id"]
            if lid in listings:
                listings[lid]["exceptions"].append(
                    (parse_minutes(res["attributes"]["start"]), parse_minutes(res["attributes"]["end"]), 0)
                )
    with running_service(engine_url, redis_url) as svc:
        for i in range(0, len(events), 1000):
            svc.send(events[i : i + 1000])
        svc.wait_searchable(timeout=600)
        yield svc, listings


def test_boston_date_queries_match_the_oracle(boston: tuple[Service, dict[str, dict[str, Any]]]) -> None:
    svc, listings = boston
    h0, _ = horizon(utc_today())
    rng = random.Random(2024)
    sizes = []
    for _ in range(12):
        first, length = rng.randint(0, 200), rng.randint(1, 14)
        mode = rng.choice(["day-full", "day-partial"])
        duration = rng.randint(1, length) if mode == "day-partial" else 0
        start, end = h0 + first * 1440, h0 + (first + length) * 1440
        params: dict[str, Any] = {"start": iso(start), "end": iso(end), "availability": mode}
        if duration:
            params["minDuration"] = duration
        want = {
            lid
            for lid, L in listings.items()
            if matches(
                L["plan"],
                L["exceptions"],
                [],
                mode=mode,
                start=start,
                end=end,
                seats=1,
                min_duration=duration,
                step=1440,
            )  # every Boston boundary is at midnight
        }
        assert set(svc.all_ids(**params)) == want, params
        sizes.append(len(want))
    assert min(sizes) < len(listings) and max(sizes) > 0


def test_boston_facets_are_the_csv_counted_by_hand(boston: tuple[Service, dict[str, dict[str, Any]]]) -> None:
    """Counted from the CSV with the csv module alone: a row is a published listing when it has a
    name and a price (Inside Airbnb leaves the price empty for inactive listings)."""
    svc, _ = boston
    with gzip.open(boston_dir() / "listings_search.csv.gz", "rt", newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["name"].strip() and r["price"].strip()]
    cents = [int(Decimal(r["price"].strip().lstrip("$").replace(",", "")) * 100) for r in rows]
    types = Counter(r["room_type"].strip() for r in rows)
    # The familiar numbers (docs/benchmarks.md uses them too).
    assert len(rows) == 3543 and types["Entire home/apt"] == 2448 and types["Private room"] == 1044
    resp = svc.public.get("/v1/api/listings/query", params={"facets": "pub_listingType,price", "perPage": 1})
    assert resp.status_code == 200, resp.text
    meta = resp.json()["meta"]
    assert meta["totalItems"] == len(rows)
    facets = meta["facets"]
    assert facets["price"] == {"min": min(cents), "max": max(cents), "count": len(rows)}
    assert facets["pub_listingType"] == {
        "values": [{"value": v, "count": n} for v, n in sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))],
        "otherValues": 0,
    }
    # Ticking one type keeps the other types' counts (a disjunctive choice) and narrows the results.
    ticked = svc.public.get(
        "/v1/api/listings/query",
        params={"facets": "pub_listingType", "pub_listingType": "Private room", "perPage": 1},
    ).json()["meta"]
    assert ticked["totalItems"] == types["Private room"]
    assert ticked["facets"]["pub_listingType"] == facets["pub_listingType"]
