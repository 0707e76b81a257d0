"""Stock equals Flex's sum of adjustments for any history and any delivery order, including
adjustments edited or deleted after a stock total was read (schemas/stock.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import ChangeEvent
from schemas.listing_doc import merge
from schemas.stock import SNAPSHOT, available_stock

LID = "00000000-0000-4000-8000-00000000000a"


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[ChangeEvent], int | None]:
    """Adjustment events in sequence order (edits carry the quantity before them, as Flex's
    previousValues do), and maybe the stamp of a stock total read in between."""
    live: dict[str, int] = {}
    events: list[ChangeEvent] = []
    for seq in range(1, draw(st.integers(1, 30)) + 1):
        kind = draw(st.sampled_from(["created", "updated", "deleted"] if live else ["created"]))
        if kind == "created":
            aid = f"a{seq}"
            live[aid] = draw(st.integers(-5, 9))
            events.append(ChangeEvent(seq, "stockAdjustment/created", LID, aid, {"quantity": live[aid]}, f"e{seq}"))
            continue
        aid = draw(st.sampled_from(sorted(live)))
        prior = live[aid]
        if kind == "updated":
            live[aid] = draw(st.integers(-5, 9))
            res: dict[str, Any] | None = {"quantity": live[aid]}
        else:
            del live[aid]
            res = None
        events.append(ChangeEvent(seq, f"stockAdjustment/{kind}", LID, aid, res, f"e{seq}", None, prior))
    stamp = draw(st.none() | st.integers(0, len(events)))
    return events, stamp


@settings(max_examples=400, deadline=None)
@given(data=st.data(), history=histories())
def test_stock_is_the_sum_of_adjustments_in_any_order(data: st.DataObject, history: Any) -> None:
    events, stamp = history
    live: dict[str, int] = {}
    for ev in events:  # Flex's own number: the sum of the adjustments as they are now
        if ev.resource is None:
            live.pop(ev.resource_id, None)
        else:
            live[ev.resource_id] = ev.resource["quantity"]
    want = sum(live.values())
    src: dict[str, Any] | None = None
    if stamp is not None:
        # A re-sync read Flex's total after event `stamp`; the index may or may not have seen
        # some of the events before it, in any order.
        state: dict[str, int] = {}
        for ev in events:
            if ev.seq > stamp:
                break
            if ev.resource is None:
                state.pop(ev.resource_id, None)
            else:
                state[ev.resource_id] = ev.resource["quantity"]
        total = sum(state.values())
        src = {"listing": None, SNAPSHOT: {"seq": stamp, "data": {"quantity": total}}}
        seen_before = data.draw(st.lists(st.sampled_from([e for e in events if e.seq <= stamp] or [None])))
        src, _ = merge(src, [e for e in seen_before if e is not None])
        events = [e for e in events if e.seq > stamp]
    shuffled = data.draw(st.permutations(events + events[: len(events) // 3]))
    merged, _ = merge(src, shuffled)
    assert available_stock(merged) == want
