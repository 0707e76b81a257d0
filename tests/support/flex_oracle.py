"""What Flex itself would show for a stand-in marketplace: the expectations the sync tests hold
the index to, computed from the `Marketplace`'s own records, never through our code (nothing
from schemas.* or indexer.* is imported here, so a shared mistake cannot agree with itself).

The rules, with the references they come from (sharetribe/flex-docs, src/docs/…):

Visibility
  Only published listings are searchable, and deleted listings are gone from every listing
  endpoint (concepts-listings/listings-overview "Published", "Deleted"). The service shows
  exactly Flex's published set.

Stock (references/stock)
  - The available stock is the sum of the listing's stock adjustments: "the set of stock
    adjustments for a particular listing represents an accurate and detailed view of how the
    listing's available stock has changed over time".
  - Reservations are already in it: "the stock reservation's effect on stock is explicitly
    recorded as individual stock adjustments as the reservation progresses through its states"
    (negative when taken, positive when given back). They are never subtracted again.
  - A listing without stock set up (no adjustment ever) has no stock (`currentStock` null). An
    adjustment removed later by an admin (`stockAdjustment/deleted`) no longer counts.

Free seats of a day-plan listing on a UTC date (references/availability)
  - The plan gives the seats of the date's weekday (no entry: 0 seats).
  - Exceptions override the plan; one that covers any part of the UTC date covers the whole
    date, and with several "the minimum number of seats of all these availability exceptions
    is taken" ("Interpretation of availability exceptions and bookings").
  - Bookings in `pending` or `accepted` "count as reservation against the listing's
    availability"; `proposed`, `declined` and `cancelled` do not ("Booking states"). Each takes
    its `seats`, and a booking is read by the same whole-date rule as exceptions.
  - A booking's listing is its transaction's listing: the booking's only one-to-one
    relationship is its transaction (references/events "Resource data and previous values").
  - Free seats never go below zero for a search (Flex does not create bookings past the
    availability when the process observes it; a search for ≥ 1 seat treats 0 and less alike).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.support.sharetribe_standin import Marketplace, parse_ts

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOLDING_BOOKING_STATES = frozenset({"pending", "accepted"})


def _rel(resource: dict[str, Any], name: str) -> str | None:
    data = (resource.get("relationships") or {}).get(name, {}).get("data")
    return data.get("id") if isinstance(data, dict) else None


def published(market: Marketplace) -> set[str]:
    with market.lock:
        return {lid for lid, r in market.listings.items() if r["attributes"]["state"] == "published"}


def stock(market: Marketplace) -> dict[str, int | None]:
    """Every existing listing's available stock, or None where stock was never set up."""
    with market.lock:
        totals: dict[str, int] = {}
        for adj in market.adjustments.values():
            lid = _rel(adj, "listing")
            if lid is not None:
                totals[lid] = totals.get(lid, 0) + int(adj["attributes"]["quantity"])
        return {lid: (totals.get(lid, 0) if lid in market.stocked else None) for lid in market.listings}


def _dates_covered(start: str, end: str) -> tuple[date, date]:
    """The UTC dates [first, last) an interval touches: any part of a date covers all of it."""
    s, e = parse_ts(start).astimezone(UTC), parse_ts(end).astimezone(UTC)
    first = s.date()
    last = e.date() if e.time() == datetime.min.time() else e.date() + timedelta(days=1)
    return first, max(last, first + timedelta(days=1))


def free_seats(market: Marketplace, first_day: date, days: int) -> dict[str, list[int]]:
    """Free seats per UTC date, `days` dates from `first_day`, of every existing listing with a
    day-based plan."""
    with market.lock:
        window = [first_day + timedelta(days=i) for i in range(days)]
        plans = {
            lid: r["attributes"]["availabilityPlan"]
            for lid, r in market.listings.items()
            if (r["attributes"].get("availabilityPlan") or {}).get("type") == "availability-plan/day"
        }
        covering: dict[str, dict[date, list[int]]] = {lid: {} for lid in plans}
        for exc in market.exceptions.values():
            lid = _rel(exc, "listing")
            if lid not in plans:
                continue
            first, last = _dates_covered(exc["attributes"]["start"], exc["attributes"]["end"])
            for d in window:
                if first <= d < last:
                    covering[lid].setdefault(d, []).append(int(exc["attributes"]["seats"]))
        booked: dict[str, dict[date, int]] = {lid: {} for lid in plans}
        for booking in market.bookings.values():
            attrs = booking["attributes"]
            if attrs["state"] not in HOLDING_BOOKING_STATES:
                continue
            tx = market.transactions.get(_rel(booking, "transaction") or "")
            lid = _rel(tx, "listing") if tx is not None else None
            if lid not in plans:
                continue
            first, last = _dates_covered(attrs["start"], attrs["end"])
            for d in window:
                if first <= d < last:
                    booked[lid][d] = booked[lid].get(d, 0) + int(attrs["seats"])
        out: dict[str, list[int]] = {}
        for lid, plan in plans.items():
            per_day = {e["dayOfWeek"]: int(e["seats"]) for e in plan.get("entries") or []}
            row = []
            for d in window:
                seats = min(covering[lid][d]) if d in covering[lid] else per_day.get(DAYS[d.weekday()], 0)
                row.append(max(seats - booked[lid].get(d, 0), 0))
            out[lid] = row
        return out


def public_attributes(market: Marketplace) -> dict[str, dict[str, Any]]:
    """The attributes (and author) Flex's public listing resource has for each published
    listing: everything but `privateData`, which no public API returns."""
    with market.lock:
        out = {}
        for lid, r in market.listings.items():
            if r["attributes"]["state"] != "published":
                continue
            attrs = {k: v for k, v in r["attributes"].items() if k != "privateData"}
            out[lid] = {"attributes": attrs, "author": _rel(r, "author")}
        return out
