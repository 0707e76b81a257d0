"""Two workers on one stream never lose an update to the same listing."""

from __future__ import annotations

import random
from typing import Any

from schemas.availability import DAYS, horizon, utc_today
from tests.integration.test_geo_stock import stock_event
from tests.support import contents, exception_event, in_order_contents, iso, listing_event, new_id, running_service


def history(rng: random.Random) -> list[dict[str, Any]]:
    """Few listings, many interleaved events each: listing edits, exceptions, bookings, stock."""
    h0, _ = horizon(utc_today())
    listings = [new_id() for _ in range(6)]
    events: list[dict[str, Any]] = []
    seq = 0
    plan = {"type": "availability-plan/day", "entries": [{"dayOfWeek": d, "seats": 2} for d in DAYS]}
    for lid in listings:
        seq += 1
        ev = listing_event(seq, lid, event_type="listing/created")
        ev["attributes"]["resource"]["attributes"]["availabilityPlan"] = plan
        events.append(ev)
    for _ in range(900):
        seq += 1
        lid = rng.choice(listings)
        roll = rng.random()
        if roll < 0.35:
            ev = listing_event(seq, lid, title=f"v{seq}", price=rng.randint(100, 9000))
            ev["attributes"]["resource"]["attributes"]["availabilityPlan"] = plan
        elif roll < 0.6:
            s = h0 + rng.randint(0, 60) * 1440
            ev = exception_event(
                seq, lid, new_id(), start=iso(s), end=iso(s + 1440 * rng.randint(1, 3)), seats=rng.randint(0, 3)
            )
        elif roll < 0.8:
            bid = new_id()
            s = h0 + rng.randint(0, 60) * 1440
            ev = {
                "id": new_id(),
                "type": "event",
                "attributes": {
                    "sequenceId": seq,
                    "eventType": "booking/created",
                    "resourceId": bid,
                    "resourceType": "booking",
                    "resource": {
                        "id": bid,
                        "type": "booking",
                        "attributes": {"start": iso(s), "end": iso(s + 1440), "seats": 1, "state": "accepted"},
                        "relationships": {"listing": {"data": {"id": lid, "type": "listing"}}},
                    },
                },
            }
        else:
            ev = stock_event(seq, "stockAdjustment", lid, rng.randint(-2, 5))
        events.append(ev)
    return events


def test_two_workers_equal_in_order_application(engine_url: str, redis_url: str) -> None:
    rng = random.Random(77)
    events = history(rng)
    messy = events + rng.sample(events, 90)
    rng.shuffle(messy)
    with running_service(engine_url, redis_url, workers=2, batch_size=25) as two:
        for i in range(0, len(messy), 30):
            two.send(messy[i : i + 30])
        two.wait_searchable(timeout=120)
        got = contents(two)
        status = two.status()
    want = in_order_contents(engine_url, redis_url, events)
    assert len(want) == 6
    assert got == want
    assert status["events"]["applied"] == status["events"]["accepted"] == len(messy)
