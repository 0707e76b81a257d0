"""Stock from events (contract §6), order-independent like everything in a document.

[decided] available = base + adjustments newer than the base - quantities held by
reservations that are pending or accepted, where base is the newest `currentStock` snapshot
(a listing event carrying it) or 0 when there is none. Stock is undefined (None) for a listing
that never had a snapshot or an adjustment.
"""

from __future__ import annotations

from typing import Any, Final

HOLDING_STATES: Final = frozenset({"pending", "accepted"})
SNAPSHOT: Final = "stockSnapshot"


def available_stock(src: dict[str, Any]) -> int | None:
    snapshot = src.get(SNAPSHOT)
    adjustments = [a for a in (src.get("stockAdjustment") or {}).values() if a.get("data") is not None]
    if (snapshot is None or snapshot.get("data") is None) and not adjustments:
        return None
    base, base_seq = 0, -1
    if snapshot is not None and snapshot.get("data") is not None:
        base, base_seq = int(snapshot["data"]["quantity"]), int(snapshot["seq"])
    total = base + sum(int(a["data"]["quantity"]) for a in adjustments if a["seq"] > base_seq)
    held = sum(
        int(r["data"]["quantity"])
        for r in (src.get("stockReservation") or {}).values()
        if r.get("data") is not None and r["data"].get("state") in HOLDING_STATES
    )
    return total - held
