"""Stock from events (contract §6), order-independent like everything in a document.

available = base + adjustments newer than the base, where the base is the newest `currentStock`
snapshot (read from the Integration API during a re-sync, `include=currentStock`) or 0 for a
listing whose whole life is in the event stream. Stock is undefined (None) for a listing that
never had a snapshot or an adjustment.

Reservations are never subtracted: Flex records a reservation's effect on stock as stock
adjustments (negative when stock is taken, positive when it is given back) as the reservation
moves through its states, so `currentStock` and the adjustments already include it (Sharetribe
docs, references/stock). A document may still hold `stockReservation` components written by an
earlier version; they are ignored.
"""

from __future__ import annotations

from typing import Any, Final

SNAPSHOT: Final = "stockSnapshot"


def available_stock(src: dict[str, Any]) -> int | None:
    snapshot = src.get(SNAPSHOT)
    recorded = (src.get("stockAdjustment") or {}).values()
    # An adjustment that was deleted still means stock was defined (its sum is then 0).
    if (snapshot is None or snapshot.get("data") is None) and not recorded:
        return None
    adjustments = [a for a in recorded if a.get("data") is not None]
    base, base_seq = 0, -1
    if snapshot is not None and snapshot.get("data") is not None:
        base, base_seq = int(snapshot["data"]["quantity"]), int(snapshot["seq"])
    return base + sum(int(a["data"]["quantity"]) for a in adjustments if a["seq"] > base_seq)
