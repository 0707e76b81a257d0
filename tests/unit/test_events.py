"""Event classification: valid, ignored or rejected with a reason; never an exception."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import ChangeEvent, Ignored, Rejected, classify, strip_private
from tests.support.events import exception_event, listing_event, new_id


def test_listing_event_is_normalised_without_private_data() -> None:
    lid = new_id().upper()
    ev = listing_event(5, lid, event_type="listing/created", private_data={"pin": "1234"})
    ev["attributes"]["resource"]["id"] = lid
    result = classify(ev)
    assert isinstance(result, ChangeEvent)
    assert result.listing_id == lid.lower() and result.seq == 5
    assert result.resource is not None
    assert "privateData" not in result.resource and "1234" not in result.to_json().decode()
    assert ChangeEvent.from_json(result.to_json()) == result


def test_timestamps_normalised_to_utc_millis() -> None:
    ev = listing_event(1, new_id(), created_at="2026-03-01T12:00:00+02:00")
    result = classify(ev)
    assert isinstance(result, ChangeEvent) and result.resource is not None
    assert result.resource["createdAt"] == "2026-03-01T10:00:00.000Z"


def test_exception_event_names_its_listing_even_when_deleted() -> None:
    lid, xid = new_id(), new_id()
    created = classify(exception_event(2, lid, xid, start="2027-01-01T00:00:00Z", end="2027-01-02T00:00:00Z"))
    deleted = classify(exception_event(3, lid, xid, start="", end="", deleted=True))
    assert isinstance(created, ChangeEvent) and isinstance(deleted, ChangeEvent)
    assert created.listing_id == deleted.listing_id == lid
    assert deleted.resource is None


def test_exception_end_before_start_is_rejected() -> None:
    result = classify(exception_event(2, new_id(), new_id(), start="2027-01-02T00:00:00Z", end="2027-01-01T00:00:00Z"))
    assert isinstance(result, Rejected) and "end" in result.reason


def test_unknown_type_is_ignored() -> None:
    ev = listing_event(1, new_id())
    ev["attributes"]["eventType"] = "transaction/initiated"
    ev["attributes"]["resourceType"] = "transaction"
    assert classify(ev) == Ignored("transaction/initiated")


def test_deep_extended_data_is_rejected() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(40):
        node["x"] = {}
        node = node["x"]
    result = classify(listing_event(1, new_id(), public_data=deep))
    assert isinstance(result, Rejected) and "nested deeper" in result.reason


def test_huge_extended_data_is_rejected() -> None:
    result = classify(listing_event(1, new_id(), public_data={"blob": "x" * 100_000}))
    assert isinstance(result, Rejected) and "bytes" in result.reason


def test_strip_private_keeps_the_rest() -> None:
    ev = listing_event(1, new_id(), private_data={"pin": "1234"})
    stripped = strip_private(ev)
    assert "1234" not in str(stripped)
    assert ev["attributes"]["resource"]["attributes"]["privateData"] == {"pin": "1234"}  # original untouched


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_classifies_without_raising(value: object) -> None:
    assert isinstance(classify(value), ChangeEvent | Ignored | Rejected)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_corruption_of_a_valid_event_classifies_without_raising(data: st.DataObject) -> None:
    ev: dict[str, Any] = listing_event(1, new_id())
    paths = [
        ["id"],
        ["attributes"],
        ["attributes", "sequenceId"],
        ["attributes", "eventType"],
        ["attributes", "resource"],
        ["attributes", "resource", "attributes"],
        ["attributes", "resource", "attributes", "price"],
        ["attributes", "resource", "attributes", "state"],
        ["attributes", "resource", "attributes", "geolocation"],
        ["attributes", "resource", "attributes", "availabilityPlan"],
        ["attributes", "resource", "relationships"],
    ]
    path = data.draw(st.sampled_from(paths))
    node = ev
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = data.draw(json_values)
    assert isinstance(classify(ev), ChangeEvent | Ignored | Rejected)


def test_a_booking_names_its_transaction_and_is_routed_not_rejected() -> None:
    from tests.support.events import booking, booking_deleted

    bid, tx = new_id(), new_id()
    created = classify(booking(4, "created", bid, tx, "pending"))
    assert isinstance(created, ChangeEvent)
    assert created.listing_id == "" and created.transaction_id == tx and created.resource_id == bid
    assert ChangeEvent.from_json(created.to_json()) == created
    # A deletion whose previous values are nulls: routed by the booking's own id.
    deleted = classify(booking_deleted(5, bid))
    assert isinstance(deleted, ChangeEvent) and deleted.listing_id == "" and deleted.transaction_id is None
    # A booking that does name its listing is used directly.
    lid = new_id()
    named = booking(6, "updated", bid, tx, "accepted")
    named["attributes"]["resource"]["relationships"]["listing"] = {"data": {"id": lid, "type": "listing"}}
    direct = classify(named)
    assert isinstance(direct, ChangeEvent) and direct.listing_id == lid
    # A listing relationship that is there but malformed is still an error.
    named["attributes"]["resource"]["relationships"]["listing"] = {"data": {"id": "x", "type": "listing"}}
    assert isinstance(classify(named), Rejected)


def test_a_transaction_event_links_its_booking_to_its_listing() -> None:
    from schemas.events import TransactionLink
    from tests.support.events import transaction

    tx, lid, bid = new_id(), new_id(), new_id()
    assert classify(transaction(9, "transitioned", tx, lid, bid)) == TransactionLink(9, tx, lid, bid)
    bare = transaction(10, "updated", tx, lid, bid)
    bare["attributes"]["resource"]["relationships"] = {}
    assert classify(bare) == Ignored("transaction/updated")


def test_stock_reservations_are_ignored_and_adjustment_changes_count() -> None:
    from tests.support.events import stock_event

    lid = new_id()
    assert classify(stock_event(1, "stockReservation", lid, 1, state="pending")) == Ignored("stockReservation/created")
    updated = classify(stock_event(2, "stockAdjustment", lid, 3, event="updated"))
    assert isinstance(updated, ChangeEvent) and updated.listing_id == lid
    gone = stock_event(3, "stockAdjustment", lid, 0, event="deleted")
    gone["attributes"]["previousValues"] = {
        "attributes": {"quantity": None},
        "relationships": gone["attributes"]["resource"]["relationships"],
    }
    gone["attributes"]["resource"] = None
    deleted = classify(gone)
    assert isinstance(deleted, ChangeEvent) and deleted.listing_id == lid and deleted.resource is None


@pytest.mark.parametrize("state", ["cancelled", "canceled", "declined", "proposed"])
def test_a_booking_in_either_spelling_of_cancelled_holds_no_seats(state: str) -> None:
    """The web template's BOOKING_STATE_CANCELLED is `cancelled` (src/util/types.js); flex-docs
    references/availability "Booking states" spells it `canceled`. Both are accepted, and neither
    (nor declined, nor proposed) takes seats: only pending and accepted bookings do."""
    from schemas.availability import active_intervals
    from tests.support.events import booking

    event = classify(booking(7, "updated", new_id(), new_id(), state))
    assert isinstance(event, ChangeEvent), event
    attrs = event.resource or {}
    assert attrs["state"] == state, attrs
    held = {"b": {"data": {"start": attrs["start"], "end": attrs["end"], "seats": attrs["seats"], "state": state}}}
    assert active_intervals(held, bookings=True) == []
    held["b"]["data"]["state"] = "accepted"
    assert len(active_intervals(held, bookings=True)) == 1
