"""Event classification: valid, ignored or rejected with a reason; never an exception."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import ChangeEvent, Ignored, Rejected, classify, strip_private
from tests.support import exception_event, listing_event, new_id


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
