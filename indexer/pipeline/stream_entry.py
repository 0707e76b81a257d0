"""The fields of an entry in the event stream, named once.

Intake writes entries (in Lua, `booking_links.ROUTE_LUA`), the horizon roll and the
reconciliation queue markers, and the worker reads them all; every one of them spells a field
through this module, the Lua scripts included (they are built from these names).

An entry is one of:
- an event: `e` (the validated event as JSON) and `l` (its listing id, beside it so a worker can
  size its batch by listings without decoding; a booking routed through its transaction has its
  listing only here);
- a refresh marker: `r` (a listing id): recompute that document (the daily horizon roll);
- a repair: `s` (JSON `{lid, src, absent}`) and `l`: lay a snapshot read from the source of truth
  under the document (`schemas.listing_doc.overlay`), the reconciliation's repairs.
"""

from __future__ import annotations

from typing import Final

EVENT: Final = "e"
LISTING: Final = "l"
REFRESH: Final = "r"
OVERLAY: Final = "s"

EVENT_B: Final = EVENT.encode()
LISTING_B: Final = LISTING.encode()
REFRESH_B: Final = REFRESH.encode()
OVERLAY_B: Final = OVERLAY.encode()
# Entries that carry no event: not counted as applied when they settle.
MARKERS_B: Final = (REFRESH_B, OVERLAY_B)


def refresh_entry(listing_id: str) -> dict[bytes, bytes]:
    return {REFRESH_B: listing_id.encode()}


def overlay_entry(listing_id: str, snapshot_json: bytes) -> dict[bytes, bytes]:
    return {OVERLAY_B: snapshot_json, LISTING_B: listing_id.encode()}


def listing_of(fields: dict[bytes, bytes]) -> bytes | None:
    """The listing an entry concerns, without decoding its event."""
    return fields.get(LISTING_B) or fields.get(REFRESH_B)
