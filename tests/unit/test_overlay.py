"""A snapshot read from the source, laid under whatever the index knows, converges.

The re-sync and the reconciliation rest on this: whatever partial (or gapped, or ahead) state
the index holds, overlaying a snapshot stamped with a sequenceId the read reflects, then
applying the events after that stamp, gives the state all events in order give. And catching up
(overlaying again once the index learnt more) equals overlaying the newer state once.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import ChangeEvent
from schemas.listing_doc import LISTING, merge, overlay
from schemas.stock import SNAPSHOT, available_stock
from tests.support.change_events import LID, component, listing

FAMILIES = ("availabilityException", "booking", "stockAdjustment", "stockReservation")


def adjustment(seq: int, quantity: int) -> ChangeEvent:
    return ChangeEvent(seq, "stockAdjustment/created", LID, f"adj{seq}", {"quantity": quantity}, f"e{seq}")


def reservation(seq: int, rid: str, state: str) -> ChangeEvent:
    return ChangeEvent(seq, "stockReservation/updated", LID, rid, {"quantity": 1, "state": state}, f"e{seq}")


@st.composite
def logs(draw: st.DrawFn) -> list[ChangeEvent]:
    n = draw(st.integers(1, 30))
    # As in Flex: the listing exists before anything of it happens.
    out: list[ChangeEvent] = [listing(1)]
    for seq in range(2, n + 1):
        kind = draw(
            st.sampled_from(["listing", "listing-delete", "exception", "exception-delete", "adjust", "reserve"])
        )
        rid = draw(st.sampled_from(["r1", "r2", "r3"]))
        if kind == "listing":
            out.append(listing(seq, draw(st.sampled_from(["published", "closed"]))))
        elif kind == "listing-delete":
            # Flex never brings a deleted listing back, nor changes anything of it.
            out.append(ChangeEvent(seq, "listing/deleted", LID, LID, None, f"e{seq}"))
            break
        elif kind == "exception":
            out.append(component(seq, "availabilityException", rid))
        elif kind == "exception-delete":
            out.append(component(seq, "availabilityException", rid, delete=True))
        elif kind == "adjust":
            out.append(adjustment(seq, draw(st.integers(-3, 5))))
        else:
            out.append(reservation(seq, rid, draw(st.sampled_from(["pending", "accepted", "cancelled"]))))
    return out


def live_view(src: dict[str, Any]) -> dict[str, Any]:
    """What a source says regardless of sequenceIds and tombstones: the derived fields' input.
    A listing that does not exist is never visible, whatever components it keeps."""
    if (src.get(LISTING) or {}).get("data") is None:
        return {"listing": None}
    return {
        "listing": (src.get(LISTING) or {}).get("data"),
        "stock": available_stock(src),
        **{
            family: {rid: c["data"] for rid, c in (src.get(family) or {}).items() if c["data"] is not None}
            for family in ("availabilityException", "booking", "stockReservation")
        },
    }


def snapshot_at(events: list[ChangeEvent], stamp: int) -> tuple[dict[str, Any], dict[str, int]]:
    """What the Integration API would answer after event `stamp`: live things only, stamped."""
    truth, _ = merge(None, [e for e in events if e.seq <= stamp])
    src: dict[str, Any] = {LISTING: None}
    if (truth.get(LISTING) or {}).get("data") is not None:
        src[LISTING] = {"seq": stamp, "data": truth[LISTING]["data"]}
    without_reservations = {k: v for k, v in truth.items() if k != "stockReservation"}
    quantity = available_stock(without_reservations)
    if quantity is not None and src[LISTING] is not None:
        src[SNAPSHOT] = {"seq": stamp, "data": {"quantity": quantity}}
    for family in ("availabilityException", "booking", "stockReservation"):
        live = {rid: {"seq": stamp, "data": c["data"]} for rid, c in (truth.get(family) or {}).items() if c["data"]}
        if live:
            src[family] = live
    absent = {key: stamp for key in (LISTING, SNAPSHOT, *FAMILIES)}
    return src, absent


@settings(max_examples=400, deadline=None)
@given(logs(), st.data())
def test_snapshot_then_later_events_equals_in_order(events: list[ChangeEvent], data: st.DataObject) -> None:
    stamp = data.draw(st.integers(0, len(events)))
    # The index knows any subset: events lost in a gap, events from after the read.
    known = [e for e in events if data.draw(st.booleans())]
    current, _ = merge(None, known)
    snap, absent = snapshot_at(events, stamp)
    if snap[LISTING] is None:
        # The source does not have the listing: a tombstone, like a listing the scan never saw.
        snap = {LISTING: None}
    result, _ = merge(overlay(snap, absent, current), [e for e in events if e.seq > stamp])
    expected, _ = merge(None, events)
    assert live_view(result) == live_view(expected)


@settings(max_examples=300, deadline=None)
@given(logs(), st.data())
def test_catching_up_equals_one_overlay(events: list[ChangeEvent], data: st.DataObject) -> None:
    stamp = data.draw(st.integers(0, len(events)))
    first = [e for e in events if data.draw(st.booleans())]
    later = first + [e for e in events if data.draw(st.booleans())]
    old, _ = merge(None, first)
    new, _ = merge(None, later)
    snap, absent = snapshot_at(events, stamp)
    assert overlay(overlay(snap, absent, old), absent, new) == overlay(snap, absent, new)
