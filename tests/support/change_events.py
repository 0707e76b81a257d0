"""Validated events (`ChangeEvent`) of one listing, for the pure merge and overlay tests."""

from __future__ import annotations

from schemas.events import ChangeEvent

LID = "7a3b1c6e-9a2f-4e8b-8f3d-2f5c9e1a0b4d"


def listing(seq: int, state: str = "published", title: str = "t", deleted: bool = False) -> ChangeEvent:
    res = {
        "title": title,
        "description": None,
        "geolocation": None,
        "price": {"amount": seq, "currency": "USD"},
        "publicData": {"k": seq},
        "metadata": {},
        "state": state,
        "deleted": deleted,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "availabilityPlan": None,
        "authorId": None,
        "currentStock": None,
    }
    return ChangeEvent(seq, "listing/updated", LID, LID, res, f"e{seq}")


def component(seq: int, family: str, rid: str, delete: bool = False) -> ChangeEvent:
    res = None if delete else {"start": "2026-12-01T00:00:00.000Z", "end": "2026-12-03T00:00:00.000Z", "seats": seq % 3}
    return ChangeEvent(seq, f"{family}/{'deleted' if delete else 'created'}", LID, rid, res, f"e{seq}")
