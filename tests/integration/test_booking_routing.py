"""Bookings reach their listing through their transaction, in any delivery order.

Event shapes follow Sharetribe's references/events: a booking's one-to-one relationship is its
transaction (no `listing`), a transaction's are `listing` and `booking`, a deletion's `resource` is
null and its `previousValues` may hold nulls, and within one transition the booking's events come
before the transaction's. The expected availability is worked out by hand per scenario (one seat a
day; a pending or accepted booking holds it), not by replaying our own code.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from tests.support.events import DAY, booking, booking_deleted, listing_event, new_id, transaction, ts
from tests.support.service import Service, running_service


def one_seat_listing(seq: int, lid: str) -> dict[str, Any]:
    ev = listing_event(seq, lid, event_type="listing/created")
    ev["attributes"]["resource"]["attributes"]["availabilityPlan"] = {
        "type": "availability-plan/day",
        "entries": [{"dayOfWeek": d, "seats": 1} for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")],
    }
    return ev


def free_on_day(svc: Service, ids: list[str]) -> set[str]:
    got = svc.query(ids=",".join(ids), start=ts(DAY), end=ts(DAY + timedelta(days=1)), availability="day-full", seats=1)
    return {item["id"] for item in got["data"]}


def test_a_booking_waits_visibly_for_its_transaction_and_is_never_dead_lettered(
    engine_url: str, redis_url: str
) -> None:
    lid, bid, tx = new_id(), new_id(), new_id()
    with running_service(engine_url, redis_url) as svc:
        svc.send([one_seat_listing(1, lid), booking(2, "created", bid, tx, "pending")])
        status = svc.status()
        assert status["waitingBookings"] == 1 and status["deadLetters"] == 0, status
        assert status["events"]["accepted"] == 2
        assert free_on_day(svc, [lid]) == {lid}  # not applied yet: the day is still free
        svc.send([transaction(3, "initiated", tx, lid, bid)])
        status = svc.wait_searchable()
        assert status["waitingBookings"] == 0 and status["events"]["transactionLinks"] == 1
        assert free_on_day(svc, [lid]) == set()
        # Later events of the same booking route at once through the recorded link.
        svc.send([booking(4, "updated", bid, tx, "cancelled"), transaction(5, "transitioned", tx, lid, bid)])
        svc.wait_searchable()
        assert free_on_day(svc, [lid]) == {lid}
        assert svc.status()["deadLetters"] == 0


def scenario(first_seq: int) -> tuple[list[dict[str, Any]], dict[str, bool]]:
    """Three listings with a one-seat day: a booking accepted (day taken), one accepted then
    cancelled (free), one accepted then deleted (free). Flex's order: booking events first, then
    the transaction's event of the same transition."""
    events: list[dict[str, Any]] = []
    free: dict[str, bool] = {}
    seq = first_seq
    for outcome in ("accepted", "cancelled", "deleted"):
        lid, bid, tx = new_id(), new_id(), new_id()
        events += [one_seat_listing(seq, lid), booking(seq + 1, "created", bid, tx, "pending")]
        events += [transaction(seq + 2, "initiated", tx, lid, bid), booking(seq + 3, "updated", bid, tx, "accepted")]
        events.append(transaction(seq + 4, "transitioned", tx, lid, bid))
        if outcome == "cancelled":
            events.append(booking(seq + 5, "updated", bid, tx, "cancelled"))
            events.append(transaction(seq + 6, "transitioned", tx, lid, bid))
        elif outcome == "deleted":
            events.append(booking_deleted(seq + 5, bid))
        free[lid] = outcome != "accepted"
        seq += 10
    return events, free


def test_bookings_reach_their_listing_in_any_delivery_order(engine_url: str, redis_url: str) -> None:
    rng = random.Random(13)
    with running_service(engine_url, redis_url) as svc:
        for round_ in range(4):
            events, free = scenario(1000 * (round_ + 1))
            messy = events + rng.sample(events, len(events) // 3)  # duplicates
            rng.shuffle(messy)
            for start in range(0, len(messy), 3):
                svc.send(messy[start : start + 3])
            status = svc.wait_searchable()
            assert status["deadLetters"] == 0 and status["waitingBookings"] == 0, status
            assert free_on_day(svc, list(free)) == {lid for lid, is_free in free.items() if is_free}, round_
