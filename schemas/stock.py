"""Stock from events (contract §6), order-independent like everything in a document.

Flex's stock is the sum of a listing's stock adjustments. The index knows it as a base plus the
adjustments it has seen since: the base is the newest `currentStock` snapshot (read from the
Integration API during a re-sync, `include=currentStock`), or 0 for a listing whose whole life is
in the event stream. Stock is undefined (None) for a listing that never had a snapshot or an
adjustment.

Reservations are never subtracted: Flex records a reservation's effect on stock as stock
adjustments (negative when stock is taken, positive when it is given back) as the reservation
moves through its states, so `currentStock` and the adjustments already include it (Sharetribe
docs, references/stock). A document may still hold `stockReservation` components written by an
earlier version; they are ignored.

Adjustments can be edited or deleted (`stockAdjustment/updated|deleted`, admin actions). An edit
of an adjustment the base already includes changes the total by the difference, so each
adjustment keeps, per event, the quantity it had before (`previousValues`): `hist` maps the
event's sequenceId to that quantity, or "c" for its creation. Its contribution is its quantity
now minus its quantity at the base, which is the prior quantity of its first event after the base
(0 when that event created it). Unions of `hist` commute, so any delivery order gives the same.
"""

from __future__ import annotations

from typing import Any, Final

SNAPSHOT: Final = "stockSnapshot"
ADJUSTMENTS: Final = "stockAdjustment"
CREATED: Final = "c"


def merge_adjustment(current: dict[str, Any] | None, ev: Any) -> dict[str, Any]:
    """An adjustment's component after one more event (a `ChangeEvent`): the newest event's
    quantity (or tombstone), and every event's prior quantity."""
    hist = dict(_history(current)) if current is not None else {}
    hist[str(ev.seq)] = CREATED if ev.event_type.endswith("/created") else ev.prior_quantity
    if current is None or current["seq"] < ev.seq:
        return {"seq": ev.seq, "data": ev.resource, "hist": hist}
    return {**current, "hist": hist}


def _history(entry: dict[str, Any]) -> dict[str, Any]:
    # Written before adjustments had a history: only creations existed then (or a tombstone laid by
    # a re-sync at its stamp, which the base that came with it already accounts for).
    return entry.get("hist") or {str(entry["seq"]): CREATED if entry.get("data") is not None else None}


def available_stock(src: dict[str, Any]) -> int | None:
    snapshot = src.get(SNAPSHOT)
    recorded = list((src.get(ADJUSTMENTS) or {}).values())
    # An adjustment that was deleted still means stock was defined (its sum is then 0).
    if (snapshot is None or snapshot.get("data") is None) and not recorded:
        return None
    base, base_seq = 0, -1
    if snapshot is not None and snapshot.get("data") is not None:
        base, base_seq = int(snapshot["data"]["quantity"]), int(snapshot["seq"])
    total = base
    for entry in recorded:
        hist = _history(entry)
        after = [int(seq) for seq in hist if int(seq) > base_seq]
        if not after:
            continue  # the base includes it as it is
        prior = hist[str(min(after))]
        # Unknown (null in previousValues): counted as new, the best that can be done.
        at_base = prior if isinstance(prior, int) else 0
        now = int(entry["data"]["quantity"]) if entry.get("data") is not None else 0
        total += now - at_base
    return total
