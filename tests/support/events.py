"""Flex Integration API events as the tests send them (Sharetribe's references/events shapes):
listings, availability exceptions, bookings and their transactions, stock, and a long random
history of all of them."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.availability import DAYS, horizon, utc_today

MARKETPLACE = "00000000-0000-4000-8000-000000000001"


def iso(minute: int) -> str:
    """Epoch minutes as Flex's timestamp format."""
    from schemas.availability import from_minutes

    return from_minutes(minute).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def new_id() -> str:
    return str(uuid.uuid4())


def listing_event(
    seq: int,
    listing_id: str,
    *,
    event_type: str = "listing/updated",
    state: str = "published",
    title: str = "A listing",
    description: str | None = "Somewhere nice",
    price: int | None = 10_000,
    created_at: str = "2026-01-01T00:00:00.000Z",
    author_id: str | None = None,
    public_data: dict[str, Any] | None = None,
    private_data: dict[str, Any] | None = None,
    deleted: bool = False,
) -> dict[str, Any]:
    resource: dict[str, Any] | None = {
        "id": listing_id,
        "type": "listing",
        "attributes": {
            "title": title,
            "description": description,
            "geolocation": {"lat": 42.65, "lng": -73.75},
            "price": None if price is None else {"amount": price, "currency": "USD"},
            "publicData": public_data or {},
            "metadata": {},
            "privateData": private_data or {},
            "state": state,
            "deleted": deleted,
            "createdAt": created_at,
            "availabilityPlan": None,
        },
        "relationships": {"author": {"data": {"id": author_id or MARKETPLACE, "type": "user"}}},
    }
    if event_type == "listing/deleted":
        resource = None
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"event:{seq}:{listing_id}")),
        "type": "event",
        "attributes": {
            "sequenceId": seq,
            "eventType": event_type,
            "createdAt": "2026-01-01T00:00:00.000Z",
            "resourceId": listing_id,
            "resourceType": "listing",
            "source": "source/marketplace-api",
            "resource": resource,
            "previousValues": {},
            "marketplaceId": MARKETPLACE,
        },
    }


def event_envelope(
    seq: int, event_type: str, resource_id: str, resource: dict[str, Any] | None, previous: Any = None
) -> dict[str, Any]:
    """An Integration API event around a resource (None for a deletion), with a stable event id."""
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"event:{seq}:{resource_id}")),
        "type": "event",
        "attributes": {
            "sequenceId": seq,
            "eventType": event_type,
            "createdAt": "2026-01-01T00:00:00.000Z",
            "resourceId": resource_id,
            "resourceType": event_type.split("/")[0],
            "resource": resource,
            "previousValues": previous or {},
        },
    }


def exception_event(
    seq: int, listing_id: str, exception_id: str, *, start: str, end: str, seats: int = 0, deleted: bool = False
) -> dict[str, Any]:
    rel = {"listing": {"data": {"id": listing_id, "type": "listing"}}}
    resource = (
        None
        if deleted
        else {
            "id": exception_id,
            "type": "availabilityException",
            "attributes": {"start": start, "end": end, "seats": seats},
            "relationships": rel,
        }
    )
    kind = "availabilityException/deleted" if deleted else "availabilityException/created"
    return event_envelope(seq, kind, exception_id, resource, {"relationships": rel} if deleted else None)


def component_event(
    seq: int, family: str, listing_id: str, attributes: dict[str, Any], *, resource_id: str | None = None
) -> dict[str, Any]:
    """A `<family>/created` event (availabilityException, booking, stockAdjustment, ...) of a listing."""
    rid = resource_id or new_id()
    resource = {
        "id": rid,
        "type": family,
        "attributes": attributes,
        "relationships": {"listing": {"data": {"id": listing_id, "type": "listing"}}},
    }
    return event_envelope(seq, f"{family}/created", rid, resource)


def stock_event(
    seq: int,
    family: str,
    listing_id: str,
    quantity: int,
    *,
    state: str | None = None,
    resource_id: str | None = None,
    event: str = "created",
) -> dict[str, Any]:
    rid = resource_id or str(uuid.uuid4())
    attrs: dict[str, Any] = {"quantity": quantity}
    if state is not None:
        attrs["state"] = state
    return {
        "id": str(uuid.uuid4()),
        "type": "event",
        "attributes": {
            "sequenceId": seq,
            "eventType": f"{family}/{event}",
            "resourceId": rid,
            "resourceType": family,
            "resource": {
                "id": rid,
                "type": family,
                "attributes": attrs,
                "relationships": {"listing": {"data": {"id": listing_id, "type": "listing"}}},
            },
        },
    }


DAY = (datetime.now(UTC) + timedelta(days=10)).replace(hour=0, minute=0, second=0, microsecond=0)


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def booking(seq: int, kind: str, bid: str, tx: str, state: str) -> dict[str, Any]:
    """`booking/created|updated`: attributes and the one relationship Flex gives it, `transaction`."""
    resource = {
        "id": bid,
        "type": "booking",
        "attributes": {
            "seats": 1,
            "start": ts(DAY),
            "end": ts(DAY + timedelta(days=1)),
            "displayStart": ts(DAY),
            "displayEnd": ts(DAY + timedelta(days=1)),
            "state": state,
        },
        "relationships": {"transaction": {"data": {"id": tx, "type": "transaction"}}},
    }
    return event_envelope(seq, f"booking/{kind}", bid, resource)


def booking_deleted(seq: int, bid: str) -> dict[str, Any]:
    """Deleted: no resource; previous values with the resource's shape, some of it null."""
    previous = {
        "attributes": {"seats": None, "start": None, "end": None, "state": None},
        "relationships": {"transaction": {"data": None}},
    }
    return event_envelope(seq, "booking/deleted", bid, None, previous)


def transaction(seq: int, kind: str, tx: str, lid: str, bid: str) -> dict[str, Any]:
    resource = {
        "id": tx,
        "type": "transaction",
        "attributes": {"processName": "default-booking", "lastTransition": "transition/request-payment"},
        "relationships": {
            "listing": {"data": {"id": lid, "type": "listing"}},
            "booking": {"data": {"id": bid, "type": "booking"}},
            "customer": {"data": {"id": new_id(), "type": "user"}},
            "provider": {"data": {"id": new_id(), "type": "user"}},
        },
    }
    return event_envelope(seq, f"transaction/{kind}", tx, resource)


def history(rng: random.Random) -> list[dict[str, Any]]:
    """Few listings, many interleaved events each: listing edits, exceptions, bookings, stock."""
    h0, _ = horizon(utc_today())
    listings = [new_id() for _ in range(6)]
    events: list[dict[str, Any]] = []
    seq = 0
    plan = {"type": "availability-plan/day", "entries": [{"dayOfWeek": d, "seats": 2} for d in DAYS]}
    for lid in listings:
        seq += 1
        ev = listing_event(seq, lid, event_type="listing/created")
        ev["attributes"]["resource"]["attributes"]["availabilityPlan"] = plan
        events.append(ev)
    for _ in range(900):
        seq += 1
        lid = rng.choice(listings)
        roll = rng.random()
        if roll < 0.35:
            ev = listing_event(seq, lid, title=f"v{seq}", price=rng.randint(100, 9000))
            ev["attributes"]["resource"]["attributes"]["availabilityPlan"] = plan
        elif roll < 0.6:
            s = h0 + rng.randint(0, 60) * 1440
            ev = exception_event(
                seq, lid, new_id(), start=iso(s), end=iso(s + 1440 * rng.randint(1, 3)), seats=rng.randint(0, 3)
            )
        elif roll < 0.8:
            bid = new_id()
            s = h0 + rng.randint(0, 60) * 1440
            ev = {
                "id": new_id(),
                "type": "event",
                "attributes": {
                    "sequenceId": seq,
                    "eventType": "booking/created",
                    "resourceId": bid,
                    "resourceType": "booking",
                    "resource": {
                        "id": bid,
                        "type": "booking",
                        "attributes": {"start": iso(s), "end": iso(s + 1440), "seats": 1, "state": "accepted"},
                        "relationships": {"listing": {"data": {"id": lid, "type": "listing"}}},
                    },
                },
            }
        else:
            ev = stock_event(seq, "stockAdjustment", lid, rng.randint(-2, 5))
        events.append(ev)
    return events
