"""Merging is order-independent and idempotent: the property the whole pipeline rests on."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import ChangeEvent
from schemas.index_layout import F
from schemas.listing_doc import build_document, merge, public_resource, source_seq
from schemas.search_schema import SchemaSet
from tests.support.change_events import LID, component, listing

TODAY = date(2026, 11, 22)


@st.composite
def histories(draw: st.DrawFn) -> list[ChangeEvent]:
    n = draw(st.integers(1, 25))
    seqs = sorted(draw(st.sets(st.integers(1, 10_000), min_size=n, max_size=n)))
    out: list[ChangeEvent] = []
    for seq in seqs:
        kind = draw(st.sampled_from(["listing", "listing-delete", "availabilityException", "booking", "delete-comp"]))
        rid = draw(st.sampled_from(["r1", "r2", "r3"]))
        if kind == "listing":
            out.append(listing(seq, draw(st.sampled_from(["published", "closed", "draft"]))))
        elif kind == "listing-delete":
            out.append(ChangeEvent(seq, "listing/deleted", LID, LID, None, f"e{seq}"))
        elif kind == "delete-comp":
            out.append(component(seq, "availabilityException", rid, delete=True))
        else:
            out.append(component(seq, kind, rid))
    return out


def in_order(events: list[ChangeEvent]) -> dict[str, object]:
    src: dict[str, object] | None = None
    for ev in sorted(events, key=lambda e: e.seq):
        src, _ = merge(src, [ev])
    assert src is not None
    return src


@settings(max_examples=400, deadline=None)
@given(histories(), st.randoms(use_true_random=False), st.integers(0, 10))
def test_any_order_with_duplicates_converges(events: list[ChangeEvent], rnd: object, dups: int) -> None:
    import random

    assert isinstance(rnd, random.Random)
    messy = events + [rnd.choice(events) for _ in range(dups)]
    rnd.shuffle(messy)
    # Delivered in arbitrary batches, as the worker sees them.
    src: dict[str, object] | None = None
    i = 0
    while i < len(messy):
        size = rnd.randint(1, 5)
        src, _ = merge(src, messy[i : i + size])
        i += size
    assert src == in_order(events)
    assert build_document(LID, src, SchemaSet(), TODAY) == build_document(LID, in_order(events), SchemaSet(), TODAY)


def test_stale_event_reports_no_change() -> None:
    src, changed = merge(None, [listing(5)])
    assert changed
    again, changed = merge(src, [listing(3, "closed"), listing(5)])
    assert not changed and again == src


def test_document_fields_and_version() -> None:
    src, _ = merge(None, [listing(7, title="Hello"), component(9, "booking", "b1")])
    doc = build_document(LID, src, SchemaSet(), TODAY)
    assert doc[F.SEQ] == source_seq(src) == 9
    assert doc[F.STATE] == "published" and doc[F.DELETED] is False and doc[F.TITLE] == "Hello"
    assert doc[F.PRICE] == 7


def test_events_before_the_listing_make_an_invisible_document() -> None:
    src, _ = merge(None, [component(3, "availabilityException", "x")])
    doc = build_document(LID, src, SchemaSet(), TODAY)
    assert doc[F.STATE] is None and doc[F.DELETED] is False


def test_public_resource_sparse_fields() -> None:
    src, _ = merge(None, [listing(7, title="Hello")])
    full = public_resource(LID, src)
    assert full["attributes"]["title"] == "Hello" and "privateData" not in full["attributes"]
    sparse = public_resource(LID, src, ["title", "publicData.k", "publicData.missing"])
    assert sparse["attributes"] == {"title": "Hello", "publicData": {"k": 7}}
    both = public_resource(LID, src, ["publicData", "publicData.k"])
    assert both["attributes"] == {"publicData": {"k": 7}}


DAY_PLAN = {
    "type": "availability-plan/day",
    "entries": [{"dayOfWeek": "mon", "seats": 2}, {"dayOfWeek": "fri", "seats": 1}],
}


def planned(seq: int, plan: dict[str, object] | None = DAY_PLAN) -> ChangeEvent:
    ev = listing(seq, title=f"t{seq}")
    assert ev.resource is not None
    return ChangeEvent(seq, ev.event_type, LID, LID, {**ev.resource, "availabilityPlan": plan}, ev.event_id)


@st.composite
def planned_histories(draw: st.DrawFn) -> list[ChangeEvent]:
    out = [planned(1)]
    for seq in range(2, draw(st.integers(2, 20))):
        kind = draw(st.sampled_from(["listing", "plan", "exception", "booking", "delete-exception"]))
        rid = draw(st.sampled_from(["r1", "r2"]))
        if kind == "listing":
            out.append(planned(seq))
        elif kind == "plan":
            out.append(planned(seq, draw(st.sampled_from([None, DAY_PLAN, {**DAY_PLAN, "entries": []}]))))
        elif kind == "delete-exception":
            out.append(component(seq, "availabilityException", rid, delete=True))
        else:
            out.append(component(seq, "availabilityException" if kind == "exception" else "booking", rid))
    return out


@settings(max_examples=300, deadline=None)
@given(planned_histories(), st.data())
def test_reusing_the_stored_availability_changes_nothing(events: list[ChangeEvent], data: st.DataObject) -> None:
    """An edit reuses the stored runs only when plan, exceptions and bookings are unchanged;
    either way the document is what building from scratch gives."""
    cut = data.draw(st.integers(1, len(events)))
    old, _ = merge(None, events[:cut])
    new, _ = merge(old, events[cut:])
    stored = build_document(LID, old, SchemaSet(), TODAY)
    assert build_document(LID, new, SchemaSet(), TODAY, previous=stored) == build_document(LID, new, SchemaSet(), TODAY)
    # A document built on an earlier day is never reused: the horizon moved.
    yesterday = build_document(LID, old, SchemaSet(), date(2026, 11, 21))
    assert build_document(LID, new, SchemaSet(), TODAY, previous=yesterday) == build_document(
        LID, new, SchemaSet(), TODAY
    )
