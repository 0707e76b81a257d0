"""A local stand-in for the Sharetribe Integration API, written from Sharetribe's own references
(not from our client), for the sync tests: it is the only stand-in the suite uses; the engine and
Redis are real.

Sources, named at each emulated behaviour below (paths in the public repositories, which are
mirrored for this work at /work/.mirror/<owner>+<name>/repo):

- [events]     sharetribe/flex-docs src/docs/references/events/index.md
- [stock]      sharetribe/flex-docs src/docs/references/stock/index.md
- [avail]      sharetribe/flex-docs src/docs/references/availability/index.md
- [actions]    sharetribe/flex-docs src/docs/references/transaction-process-actions/index.md
- [listings]   sharetribe/flex-docs src/docs/concepts-listings/listings-overview/index.md
- [polling]    sharetribe/flex-docs src/docs/howto-events/reacting-to-events/index.md
- [cli-events] sharetribe/flex-docs src/docs/howto-events/view-events-with-flex-cli/index.md
- [cli]        sharetribe/flex-cli src/sharetribe/flex_cli/commands/events.cljs (the CLI behind
               [cli-events]; not mirrored here, read from the public repository)
- [like]       sharetribe/flex-docs src/docs/howto-events/like-feature/index.md
- [sitemap]    sharetribe/flex-docs src/docs/concepts-development/sitemap/index.md
- [search]     sharetribe/flex-docs src/docs/concepts-listings/how-the-search-works/index.md
- [ext-data]   sharetribe/flex-docs src/docs/references/extended-data/index.md
- [rates]      sharetribe/flex-docs src/docs/concepts-api-sdk/rate-limiting/index.md
- [sdk]        sharetribe/flex-integration-sdk-js src/integration_sdk.js (endpoint list, headers),
               src/interceptors/transit_response.js, src/utils.js (rate limiter configs),
               src/fake/api.js and src/fake/token_store.js (the SDK's own fake of the API),
               docs/calling-the-api.md
- [web]        sharetribe/web-template (a Marketplace API client: same endpoint names and error
               format): src/util/types.js, src/util/errors.js,
               src/containers/EditListingPage/EditListingPage.duck.js,
               server/api/initiate-privileged.js, server/api/transition-privileged.js
- [examples]   sharetribe/integration-api-examples scripts/analytics.js, approve-listings-by-user.js,
               notify-new-listings.js, show-marketplace.js (Integration SDK calls; not mirrored here,
               read from the public repository)
- [api-ref]    https://www.sharetribe.com/api-reference/ ("support both JSON and Transit formats")
- [api-log]    https://www.sharetribe.com/api-reference/changelog.html (Sharetribe API changes)

Not a source: the community TypeScript typings journeyhorizon/sharetribe-flex-integration-sdk-types
(integration_sdk.d.ts) are not Sharetribe's; where a name here is found only there, the comment says
"not in the local references".

Where the references are silent the stand-in takes the strict reading and says so, so a client
that relies on an undocumented leniency fails here rather than in production.

A `Marketplace` holds the records. Every change goes through one of its methods, which records
the events Flex would emit for it, in Flex's order (a transition's booking and stock events come
before the transaction's own event). `StandIn.app()` serves them over HTTP.

Test hooks: `faults` (status codes answered before serving again), `rate_limit` (a token bucket,
as dev and test environments have), `events_visible_through` (the event log lags behind),
`hidden_from_queries` (listings a flaky `listings/query` page leaves out; `listings/show` still
has them), `Marketplace.forget_events_through(seq)` (retention), `after_request`, and a log of
every request served with its `Accept` header.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

CLIENT_ID = "standin-client"
CLIENT_SECRET = "standin-secret"
MAX_PER_PAGE = 100  # [polling] "a single query returns up to a 100 events"; [api-ref] perPage 1..100
# [events] "Sharetribe maintains a history of all marketplace events for 90 days in live
# marketplaces and for 7 days in dev and test marketplaces."
RETENTION_DAYS_LIVE = 90
RETENTION_DAYS_DEV = 7
# availability_exceptions/query and stock_adjustments/query take a start..end window. The local
# references give no bound; the stand-in refuses windows over 366 days, so a client that reads a
# long range must split it rather than count on Flex answering any range at once.
MAX_WINDOW = timedelta(days=366)

TRANSIT = "application/transit+json;charset=UTF-8"

# [events] "Supported event types" (the whole table).
_CRUD = ("created", "updated", "deleted")
_CRUD_TYPES = ("listing", "user", "availabilityException", "message", "booking", "review")
EVENT_TYPES = frozenset(
    {
        *(f"{r}/{s}" for r in (*_CRUD_TYPES, "stockAdjustment", "stockReservation") for s in _CRUD),
        "transaction/initiated",
        "transaction/transitioned",
        "transaction/updated",
        "transaction/deleted",
    }
)
RESOURCE_TYPES = frozenset(t.split("/")[0] for t in EVENT_TYPES)
LISTING_STATES = ("draft", "pendingApproval", "published", "closed")

# [events] "Event sources".
MARKETPLACE_API, INTEGRATION_API, TRANSACTION, CONSOLE, ADMIN = (
    "source/marketplace-api",
    "source/integration-api",
    "source/transaction",
    "source/console",
    "source/admin",
)

# Extended data is diffed key by key in previousValues ([events] "Resource data and previous values").
EXTENDED_DATA = frozenset({"publicData", "privateData", "protectedData", "metadata"})

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


# The transitions named in the stand-in's processes (any names would do: the sync never reads them).
TRANSITIONS = {"accepted": "transition/accept", "declined": "transition/decline", "cancelled": "transition/cancel"}
# [stock] "Stock reservation states" spells the state `cancelled`. For bookings, [avail] "Booking
# states" spells `canceled`, but [web] src/util/types.js, client code run against the real API,
# defines `BOOKING_STATE_CANCELLED = 'cancelled'` and checks a booking's `state: oneOf(BOOKING_STATES)`
# against it, so the stand-in emits `cancelled` for bookings too.
STATE_ACTIONS = {"accepted": ("pending", "proposed"), "declined": ("pending", "proposed"), "cancelled": ("accepted",)}


class Refused(ValueError):
    """A transition or command Flex would refuse (a precondition in [actions] does not hold)."""


def ts(moment: datetime) -> str:
    """Flex's timestamp format: UTC, milliseconds, `Z`."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_ts(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def ref(kind: str, rid: str | None) -> dict[str, Any]:
    """A to-one relationship in Integration API format: `{"data": {"id", "type"}}` or `{"data": None}`."""
    return {"data": None if rid is None else {"id": rid, "type": kind}}


def rel_id(resource: dict[str, Any] | None, name: str) -> str | None:
    data = ((resource or {}).get("relationships") or {}).get(name, {}).get("data")
    return data.get("id") if isinstance(data, dict) else None


def previous_values(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """[events] "Resource data and previous values": only what changed; whole values, except
    extended data, which is compared per top-level key (a new key's previous value is null)."""
    out: dict[str, Any] = {}
    attrs: dict[str, Any] = {}
    old, new = before.get("attributes") or {}, after.get("attributes") or {}
    for key in sorted(old.keys() | new.keys()):
        if old.get(key) == new.get(key):
            continue
        if key in EXTENDED_DATA and isinstance(old.get(key), dict) and isinstance(new.get(key), dict):
            o, n = old[key], new[key]
            attrs[key] = {k: copy.deepcopy(o.get(k)) for k in sorted(o.keys() | n.keys()) if o.get(k) != n.get(k)}
        else:
            attrs[key] = copy.deepcopy(old.get(key))
    rels = {
        k: copy.deepcopy((before.get("relationships") or {}).get(k))
        for k in sorted((before.get("relationships") or {}).keys() | (after.get("relationships") or {}).keys())
        if (before.get("relationships") or {}).get(k) != (after.get("relationships") or {}).get(k)
    }
    if attrs:
        out["attributes"] = attrs
    if rels:
        out["relationships"] = rels
    return out


def deleted_values(resource: dict[str, Any], nulled: Iterable[str]) -> dict[str, Any]:
    """previousValues of a `*/deleted` event: the resource's shape before deletion ([events]:
    "`previousValues` always has the same shape as the `resource`"), where "some of the
    attributes may be `null`, due to stricter data deletion requirements" ([events])."""
    out = {"attributes": copy.deepcopy(resource.get("attributes") or {})}
    for name in nulled:
        out["attributes"][name] = None
    if resource.get("relationships"):
        out["relationships"] = copy.deepcopy(resource["relationships"])
    return out


@dataclass
class Marketplace:
    """A marketplace's records and its event log, changed only through the methods below."""

    seq: int = 5000
    events: list[dict[str, Any]] = field(default_factory=list)
    listings: dict[str, dict[str, Any]] = field(default_factory=dict)
    # [listings] "Deleted listings don't get returned by any listing endpoints", but a transaction's
    # listing still is, "with no other data than the listing id and `deleted: true`".
    deleted_listings: dict[str, dict[str, Any]] = field(default_factory=dict)
    exceptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    bookings: dict[str, dict[str, Any]] = field(default_factory=dict)
    reservations: dict[str, dict[str, Any]] = field(default_factory=dict)
    adjustments: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Listings whose stock has been set up (a first adjustment): their `currentStock` is a stock
    # resource from then on, otherwise null.
    stocked: set[str] = field(default_factory=set)
    forgotten_through: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    marketplace_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # Resource ids from a seeded generator, not uuid4: `random_changes` picks among sorted ids, so
    # with random ids the same seed made a different marketplace every run, and a test's
    # failure could not be replayed (CI once saw 100 listings where the seed usually gives more).
    _ids: random.Random = field(default_factory=lambda: random.Random(20261128))
    # Distinct, increasing createdAt values, so ordering newest-first is deterministic.
    _clock: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def now(self) -> str:
        self._clock = max(self._clock + timedelta(milliseconds=1), datetime.now(UTC) - timedelta(hours=1))
        return ts(self._clock)

    # ---- the event log -------------------------------------------------------------------------

    def _emit(
        self,
        event_type: str,
        rid: str,
        resource: dict[str, Any] | None,
        previous: dict[str, Any],
        source: str,
    ) -> dict[str, Any]:
        """One event in Integration API format ([events] "Event data formats"): the event is a
        resource, `resource` the resource after the change (null for `*/deleted`)."""
        assert event_type in EVENT_TYPES, event_type
        self.seq += 1
        event = {
            "id": self.new_id(),
            "type": "event",
            "attributes": {
                "sequenceId": self.seq,
                "eventType": event_type,
                "createdAt": ts(datetime.now(UTC)),
                "marketplaceId": self.marketplace_id,
                "source": source,
                "resourceId": rid,
                "resourceType": event_type.split("/")[0],
                "resource": copy.deepcopy(resource),
                "previousValues": copy.deepcopy(previous),
                "auditData": {"userId": None, "adminId": None, "requestId": None, "clientId": None},
            },
        }
        self.events.append(event)
        return event

    def forget_events_through(self, seq: int) -> None:
        """Retention: events up to `seq` are gone from `events/query` (Flex keeps them
        RETENTION_DAYS_LIVE days, RETENTION_DAYS_DEV on dev and test marketplaces)."""
        with self.lock:
            self.forgotten_through = max(self.forgotten_through, seq)

    # ---- what an event carries -----------------------------------------------------------------

    def listing_event_resource(self, lid: str) -> dict[str, Any]:
        """[events]: the resource "after the event", with its one-to-one relationships as ids
        (author, marketplace, currentStock) and, as the one exception, the listing's `images`.
        `currentStock` is a reference only: no quantity rides on a listing event; a total comes
        only from `listings/show|query` with `include=currentStock`."""
        resource = copy.deepcopy(self.listings[lid])
        resource["relationships"]["currentStock"] = ref("stock", self.stock_id(lid) if lid in self.stocked else None)
        return resource

    @staticmethod
    def stock_id(lid: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"stock:{lid}"))

    def stock_total(self, lid: str) -> int | None:
        """[stock]: the available stock is what the stock adjustments add up to, reservations
        included (they are recorded as adjustments); null until stock is set up."""
        if lid not in self.stocked:
            return None
        return sum(int(a["attributes"]["quantity"]) for a in self.adjustments.values() if rel_id(a, "listing") == lid)

    def transaction_of(self, resource: dict[str, Any]) -> dict[str, Any]:
        return self.transactions[rel_id(resource, "transaction") or ""]

    # ---- listings ------------------------------------------------------------------------------

    def create_listing(self, **attrs: Any) -> str:
        with self.lock:
            lid = self.new_id()
            author = attrs.pop("author_id", None) or str(uuid.uuid5(uuid.NAMESPACE_URL, f"author:{lid}"))
            self.listings[lid] = {
                "id": lid,
                "type": "listing",
                "attributes": {
                    "title": attrs.get("title", "A listing"),
                    "description": attrs.get("description", "Somewhere"),
                    "geolocation": attrs.get("geolocation", {"lat": 42.65, "lng": -73.75}),
                    "price": attrs.get("price", {"amount": 10_000, "currency": "USD"}),
                    "publicData": attrs.get("publicData", {}),
                    "metadata": attrs.get("metadata", {}),
                    "privateData": attrs.get("privateData", {"secret": "never-indexed"}),
                    "state": attrs.get("state", "published"),
                    "deleted": False,
                    "createdAt": self.now(),
                    "availabilityPlan": attrs.get("availabilityPlan"),
                },
                "relationships": {
                    "author": ref("user", author),
                    "marketplace": ref("marketplace", self.marketplace_id),
                    "images": {"data": []},
                },
            }
            self._emit("listing/created", lid, self.listing_event_resource(lid), {}, MARKETPLACE_API)
            return lid

    def update_listing(self, lid: str, **attrs: Any) -> None:
        with self.lock:
            before = self.listing_event_resource(lid)
            self.listings[lid]["attributes"].update(copy.deepcopy(attrs))
            after = self.listing_event_resource(lid)
            self._emit("listing/updated", lid, after, previous_values(before, after), MARKETPLACE_API)

    def delete_listing(self, lid: str) -> None:
        """[listings] "Listings in Sharetribe can only be deleted by the operator in Sharetribe
        Console": source console. Its transactions, bookings and stock records stay."""
        with self.lock:
            before = self.listing_event_resource(lid)
            self.deleted_listings[lid] = self.listings.pop(lid)
            previous = deleted_values(before, ("title", "description", "geolocation", "publicData", "privateData"))
            self._emit("listing/deleted", lid, None, previous, CONSOLE)

    # ---- availability exceptions ---------------------------------------------------------------

    def add_exception(self, lid: str, start: str, end: str, seats: int) -> str:
        with self.lock:
            eid = self.new_id()
            self.exceptions[eid] = {
                "id": eid,
                "type": "availabilityException",
                "attributes": {"seats": seats, "start": start, "end": end},
                "relationships": {"listing": ref("listing", lid)},
            }
            self._emit("availabilityException/created", eid, self.exceptions[eid], {}, MARKETPLACE_API)
            return eid

    def update_exception(self, eid: str, seats: int) -> None:
        with self.lock:
            before = copy.deepcopy(self.exceptions[eid])
            self.exceptions[eid]["attributes"]["seats"] = seats
            after = self.exceptions[eid]
            self._emit("availabilityException/updated", eid, after, previous_values(before, after), MARKETPLACE_API)

    def delete_exception(self, eid: str) -> None:
        with self.lock:
            before = self.exceptions.pop(eid)
            self._emit("availabilityException/deleted", eid, None, deleted_values(before, ()), MARKETPLACE_API)

    # ---- stock ---------------------------------------------------------------------------------

    def _adjustment(self, lid: str, quantity: int, source: str, reservation: str | None = None) -> str:
        """A stock adjustment; its one-to-one relationships are the listing and, for one a
        reservation caused, the reservation ([stock], [actions] "Stock reservations")."""
        aid = self.new_id()
        self.stocked.add(lid)
        self.adjustments[aid] = {
            "id": aid,
            "type": "stockAdjustment",
            "attributes": {"quantity": quantity, "at": self.now()},
            "relationships": {"listing": ref("listing", lid), "stockReservation": ref("stockReservation", reservation)},
        }
        self._emit("stockAdjustment/created", aid, self.adjustments[aid], {}, source)
        return aid

    def adjust_stock(self, lid: str, quantity: int) -> str:
        """A provider's or an integration's adjustment ([stock]: "providers add stock by recording
        a positive stock adjustment")."""
        with self.lock:
            return self._adjustment(lid, quantity, INTEGRATION_API)

    def set_total_stock(self, lid: str, total: int) -> str | None:
        """`stock/compare_and_set` ([stock]): an adjustment of the difference, if there is one."""
        with self.lock:
            diff = total - (self.stock_total(lid) or 0)
            if diff == 0 and lid in self.stocked:
                return None
            return self._adjustment(lid, diff, INTEGRATION_API)

    def update_adjustment(self, aid: str, quantity: int) -> None:
        """`stockAdjustment/updated`: no API offers it ([stock]: "Stock adjustments are
        immutable"), but the event type exists ([events]) for an action of the Sharetribe team,
        whose events have source `source/admin` ([events] "Supported event types")."""
        with self.lock:
            before = copy.deepcopy(self.adjustments[aid])
            self.adjustments[aid]["attributes"]["quantity"] = quantity
            after = self.adjustments[aid]
            self._emit("stockAdjustment/updated", aid, after, previous_values(before, after), ADMIN)

    def delete_adjustment(self, aid: str) -> None:
        """`stockAdjustment/deleted`, an admin action as above; the previous values keep the
        quantity but lose the timestamp (some attributes of deleted resources may be null)."""
        with self.lock:
            before = self.adjustments.pop(aid)
            self._emit("stockAdjustment/deleted", aid, None, deleted_values(before, ("at",)), ADMIN)

    # ---- transactions: bookings ----------------------------------------------------------------

    def _new_transaction(self, lid: str, process: str) -> dict[str, Any]:
        tid = self.new_id()
        listing = self.listings[lid]
        now = self.now()
        tx = {
            "id": tid,
            "type": "transaction",
            "attributes": {
                "createdAt": now,
                "processName": process,
                "processVersion": 1,
                "lastTransition": None,
                "lastTransitionedAt": None,
                "lineItems": [],
                "payinTotal": None,
                "payoutTotal": None,
                "protectedData": {},
                "metadata": {},
                "transitions": [],
            },
            # The transaction's one-to-one relationships (listing, booking, stockReservation,
            # customer, provider, marketplace) are what its events carry as ids ([events]).
            "relationships": {
                "marketplace": ref("marketplace", self.marketplace_id),
                "listing": ref("listing", lid),
                "provider": copy.deepcopy(listing["relationships"]["author"]),
                "customer": ref("user", str(uuid.uuid5(uuid.NAMESPACE_URL, f"customer:{tid}"))),
                "booking": ref("booking", None),
                "stockReservation": ref("stockReservation", None),
            },
        }
        self.transactions[tid] = tx
        return tx

    def _transitioned(self, tx: dict[str, Any], transition: str, before: dict[str, Any] | None) -> None:
        """The transaction's own event comes last: [events] "Transaction process actions and
        booking, stock reservation and review events": the booking and stock events of a
        transition are emitted as each action takes effect, "and finally a
        `:transaction/initiated` or a `:transaction/transitioned` event for the transaction
        itself", whose previous values are the data before the transition."""
        now = self.now()
        attrs = tx["attributes"]
        attrs["lastTransition"] = transition
        attrs["lastTransitionedAt"] = now
        attrs["transitions"] = [*attrs["transitions"], {"transition": transition, "createdAt": now, "by": "customer"}]
        if before is None:
            self._emit("transaction/initiated", tx["id"], tx, {}, TRANSACTION)
        else:
            self._emit("transaction/transitioned", tx["id"], tx, previous_values(before, tx), TRANSACTION)

    def _booking_updated(self, bid: str, **attrs: Any) -> None:
        before = copy.deepcopy(self.bookings[bid])
        self.bookings[bid]["attributes"].update(attrs)
        after = self.bookings[bid]
        self._emit("booking/updated", bid, after, previous_values(before, after), TRANSACTION)

    def initiate_booking(
        self, lid: str, start: str, end: str, seats: int = 1, *, proposed: bool = False, accept: bool = False
    ) -> tuple[str, str]:
        """A booking transaction's first transition: `:action/create-pending-booking` (or
        `-proposed-`), optionally followed by `:action/accept-booking` in the same transition,
        the very example of [events]: booking/created, booking/updated, transaction/initiated.
        "New bookings are always created in either `pending` or `proposed` state" ([avail])."""
        with self.lock:
            tx = self._new_transaction(lid, "default-booking")
            bid = self.new_id()
            # Booking attributes ([avail] "Booking display times"; [actions] create-*-booking);
            # its one-to-one relationship is its transaction, not the listing.
            self.bookings[bid] = {
                "id": bid,
                "type": "booking",
                "attributes": {
                    "seats": seats,
                    "start": start,
                    "end": end,
                    "displayStart": start,
                    "displayEnd": end,
                    "state": "proposed" if proposed else "pending",
                },
                "relationships": {"transaction": ref("transaction", tx["id"])},
            }
            tx["relationships"]["booking"] = ref("booking", bid)
            self._emit("booking/created", bid, self.bookings[bid], {}, TRANSACTION)
            if accept:
                self._booking_updated(bid, state="accepted")
            self._transitioned(tx, "transition/request", None)
            return tx["id"], bid

    def book(self, lid: str, start: str, end: str, seats: int = 1, state: str = "accepted") -> str:
        """A booking in `state` (pending, proposed or accepted), through the transitions that
        lead there; returns the booking id."""
        if state not in ("pending", "proposed", "accepted"):
            raise Refused(f"a booking starts pending or proposed, and may be accepted at once, not {state}")
        _, bid = self.initiate_booking(lid, start, end, seats, proposed=state == "proposed", accept=state == "accepted")
        return bid

    def set_booking_state(self, bid: str, state: str) -> None:
        """One transition with one booking action ([actions] "Bookings"): accept (from pending
        or proposed), decline (from pending or proposed), cancel (from accepted). The booking's
        event comes before the transaction's."""
        with self.lock:
            booking = self.bookings[bid]
            current = booking["attributes"]["state"]
            if current not in STATE_ACTIONS.get(state, ()):
                raise Refused(f"booking {bid}: {current} -> {state} is no booking action")
            tx = self.transaction_of(booking)
            before = copy.deepcopy(tx)
            self._booking_updated(bid, state=state)
            self._transitioned(tx, TRANSITIONS[state], before)

    def reschedule_booking(self, bid: str, start: str, end: str, seats: int | None = None) -> None:
        """`:action/update-booking` in a transition: the booking keeps its state ([actions])."""
        with self.lock:
            booking = self.bookings[bid]
            if booking["attributes"]["state"] not in ("proposed", "pending", "accepted"):
                raise Refused(f"booking {bid} is {booking['attributes']['state']}: it cannot be updated")
            tx = self.transaction_of(booking)
            before = copy.deepcopy(tx)
            changes: dict[str, Any] = {"start": start, "end": end}
            if seats is not None:
                changes["seats"] = seats
            self._booking_updated(bid, **changes)
            self._transitioned(tx, "transition/update-booking", before)

    def delete_transaction(self, tid: str) -> None:
        """A transaction deleted (e.g. with a user account, by Sharetribe): its booking and
        reservation go with it. The booking's previous values keep the shape with every attribute
        null ("stricter data deletion requirements", [events]); only its relationship remains."""
        with self.lock:
            tx = self.transactions.pop(tid)
            bid = rel_id(tx, "booking")
            if bid is not None:
                booking = self.bookings.pop(bid)
                nulls = tuple(booking["attributes"])
                self._emit("booking/deleted", bid, None, deleted_values(booking, nulls), ADMIN)
            rid = rel_id(tx, "stockReservation")
            if rid is not None:
                reservation = self.reservations.pop(rid)
                self._emit("stockReservation/deleted", rid, None, deleted_values(reservation, ()), ADMIN)
            self._emit("transaction/deleted", tid, None, deleted_values(tx, ("protectedData", "metadata")), ADMIN)

    # ---- transactions: stock reservations ------------------------------------------------------

    def _reservation_updated(self, rid: str, state: str) -> None:
        before = copy.deepcopy(self.reservations[rid])
        self.reservations[rid]["attributes"]["state"] = state
        after = self.reservations[rid]
        self._emit("stockReservation/updated", rid, after, previous_values(before, after), TRANSACTION)

    def initiate_purchase(
        self, lid: str, quantity: int, *, proposed: bool = False, accept: bool = False
    ) -> tuple[str, str]:
        """`:action/create-pending-stock-reservation` (or `-proposed-`), optionally accepted in
        the same transition ([actions] "Stock reservations"):

        - "The listing must have sufficient stock available" (precondition of both);
        - a pending reservation "decreases the listing's stock - a stock adjustment is created
          having the given `stockReservationQuantity` (with a negative sign)"; a proposed one
          does not, until it is accepted.
        """
        with self.lock:
            available = self.stock_total(lid) or 0
            if quantity <= 0 or available < quantity:
                raise Refused(f"listing {lid} has {available} in stock, not {quantity}")
            tx = self._new_transaction(lid, "default-purchase")
            rid = self.new_id()
            self.reservations[rid] = {
                "id": rid,
                "type": "stockReservation",
                "attributes": {"quantity": quantity, "state": "proposed" if proposed else "pending"},
                "relationships": {"listing": ref("listing", lid), "transaction": ref("transaction", tx["id"])},
            }
            tx["relationships"]["stockReservation"] = ref("stockReservation", rid)
            self._emit("stockReservation/created", rid, self.reservations[rid], {}, TRANSACTION)
            if not proposed:
                self._adjustment(lid, -quantity, TRANSACTION, rid)
            if accept:
                self._accept_reservation(rid)
            self._transitioned(tx, "transition/request-payment", None)
            return tx["id"], rid

    def reserve(self, lid: str, quantity: int, state: str = "pending") -> str:
        """A reservation in `state` (pending, proposed or accepted); returns its id."""
        if state not in ("pending", "proposed", "accepted"):
            raise Refused(f"a stock reservation starts pending or proposed, not {state}")
        return self.initiate_purchase(lid, quantity, proposed=state == "proposed", accept=state == "accepted")[1]

    def _accept_reservation(self, rid: str) -> None:
        reservation = self.reservations[rid]
        lid, qty = rel_id(reservation, "listing") or "", reservation["attributes"]["quantity"]
        was = reservation["attributes"]["state"]
        if was == "proposed" and (self.stock_total(lid) or 0) < qty:
            raise Refused(f"listing {lid} has not enough stock to accept reservation {rid}")
        self._reservation_updated(rid, "accepted")
        # [stock]: "a new stock adjustment is not recorded when the change of states does not
        # require one, as is the case for change from `pending` to `accepted` state"; from
        # proposed, the stock is taken now ([actions] accept-stock-reservation).
        if was == "proposed":
            self._adjustment(lid, -qty, TRANSACTION, rid)

    def set_reservation_state(self, rid: str, state: str) -> None:
        """One transition with one stock reservation action ([actions] "Stock reservations"):

        - accept (pending or proposed): an adjustment of -quantity only from proposed;
        - decline (pending or proposed): from pending, a +quantity adjustment "reversing the
          adjustment that resulted from the stock reservation being created";
        - cancel (accepted): a +quantity adjustment, reversing the one that took the stock.
        """
        with self.lock:
            reservation = self.reservations[rid]
            current = reservation["attributes"]["state"]
            if current not in STATE_ACTIONS.get(state, ()):
                raise Refused(f"stock reservation {rid}: {current} -> {state} is no stock reservation action")
            tx = self.transaction_of(reservation)
            before = copy.deepcopy(tx)
            lid, qty = rel_id(reservation, "listing") or "", reservation["attributes"]["quantity"]
            if state == "accepted":
                self._accept_reservation(rid)
            else:
                self._reservation_updated(rid, state)
                if current in ("pending", "accepted"):
                    self._adjustment(lid, qty, TRANSACTION, rid)
            self._transitioned(tx, TRANSITIONS[state], before)

    # ---- random activity, for the tests --------------------------------------------------------

    def random_changes(self, rng: random.Random, n: int, *, today: datetime | None = None) -> None:
        """`n` changes of every kind the sync cares about, each a valid Flex action."""
        base = (today or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)

        def day(offset: int) -> str:
            return ts(base + timedelta(days=offset))

        plan = {
            "type": "availability-plan/day",
            "entries": [{"dayOfWeek": d, "seats": 2} for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")],
        }
        for _ in range(n):
            with self.lock:
                live = sorted(self.listings)
                roll = rng.random()
                if not live or roll < 0.12:
                    lid = self.create_listing(
                        title=f"listing {self.seq}",
                        price={"amount": rng.randrange(1000, 50_000), "currency": "USD"},
                        state=rng.choice(["published", "published", "published", "draft", "closed"]),
                        availabilityPlan=plan if rng.random() < 0.7 else None,
                        publicData={"listingType": rng.choice(["daily", "nightly", "product"])},
                    )
                    if rng.random() < 0.4:
                        self.adjust_stock(lid, rng.randrange(0, 10))
                    continue
                lid = rng.choice(live)
                bookings = sorted(self.bookings)
                reservations = sorted(self.reservations)
                if roll < 0.32:
                    self.update_listing(
                        lid,
                        title=f"t{self.seq}",
                        price={"amount": rng.randrange(1000, 50_000), "currency": "USD"},
                        state=rng.choice(["published", "published", "closed", "pendingApproval"]),
                    )
                elif roll < 0.35:
                    self.delete_listing(lid)
                elif roll < 0.45:
                    start = rng.randrange(0, 30)
                    self.add_exception(lid, day(start), day(start + rng.randrange(1, 5)), rng.randrange(0, 3))
                elif roll < 0.49 and self.exceptions:
                    self.delete_exception(rng.choice(sorted(self.exceptions)))
                elif roll < 0.61:
                    start = rng.randrange(0, 30)
                    end = day(start + rng.randrange(1, 4))
                    state = rng.choice(["pending", "accepted", "proposed"])
                    self.book(lid, day(start), end, rng.choice([1, 1, 2]), state)
                elif roll < 0.70 and bookings:
                    bid = rng.choice(bookings)
                    state = self.bookings[bid]["attributes"]["state"]
                    moves = [s for s, sources in STATE_ACTIONS.items() if state in sources]
                    if moves:
                        self.set_booking_state(bid, rng.choice(moves))
                elif roll < 0.78:
                    self.adjust_stock(lid, rng.randrange(-3, 10))
                elif roll < 0.86:
                    available = self.stock_total(lid) or 0
                    if available >= 1:
                        state = rng.choice(["pending", "accepted", "proposed"])
                        self.reserve(lid, rng.randrange(1, min(available, 3) + 1), state)
                elif roll < 0.94 and reservations:
                    rid = rng.choice(reservations)
                    state = self.reservations[rid]["attributes"]["state"]
                    moves = [s for s, sources in STATE_ACTIONS.items() if state in sources]
                    # A proposed reservation the stock no longer covers cannot be accepted.
                    with contextlib.suppress(Refused):
                        if moves:
                            self.set_reservation_state(rid, rng.choice(moves))
                elif roll < 0.97 and self.adjustments:
                    aid = rng.choice(sorted(self.adjustments))
                    if rng.random() < 0.5:
                        quantity = self.adjustments[aid]["attributes"]["quantity"]
                        self.update_adjustment(aid, quantity + rng.randrange(1, 4))
                    else:
                        self.delete_adjustment(aid)
                elif bookings:
                    bid = rng.choice(bookings)
                    if self.bookings[bid]["attributes"]["state"] in ("proposed", "pending", "accepted"):
                        start = rng.randrange(0, 30)
                        self.reschedule_booking(bid, day(start), day(start + rng.randrange(1, 3)))


# ---- HTTP --------------------------------------------------------------------------------------


@dataclass
class RateLimit:
    """A token bucket, as the Integration SDK models Flex's limits ([sdk] src/utils.js:
    `devQueryLimiterConfig` = 100 initial, 200 at most, 1 a second). [rates]: "Queries are rate
    limited at 1 request per second (60 requests per minute) on average" in dev and test
    environments; "Live environments are currently not rate limited" (so the default is none)."""

    initial: float
    maximum: float
    per_second: float
    _tokens: float = -1.0
    _at: float = 0.0

    def take(self) -> bool:
        now = time.monotonic()
        if self._tokens < 0:
            self._tokens, self._at = self.initial, now
        self._tokens = min(self.maximum, self._tokens + (now - self._at) * self.per_second)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


DEV_QUERY_LIMIT = (100, 200, 1.0)


@dataclass(frozen=True)
class Logged:
    path: str
    params: dict[str, str]
    accept: str | None
    at: float


class ApiError(Exception):
    def __init__(self, status: int, code: str, title: str, details: str | None = None) -> None:
        super().__init__(title)
        self.status, self.code, self.title, self.details = status, code, title, details


# The query parameters the stand-in takes per endpoint: a narrow set covering what the sync and the
# tests send, a subset of what Flex takes. The endpoints are [sdk]'s endpoint list; [sdk]
# docs/calling-the-api.md: "The SDK does not validate the parameters. The parameter validation is
# only done in the server side." Others are refused (400) so that a misspelt filter is not silently
# ignored; that is stricter than Flex, which takes more (see the contradictions noted at
# listings/query and transactions/query).
# `fields.*` (sparse attributes) is taken everywhere: [examples] analytics.js sends `fields.user`,
# `fields.listing`, `fields.transaction`. Sources per parameter:
# - events/query: `startAfterSequenceId`, `createdAtStart`, `eventTypes` ([polling]
#   `integrationSdk.events.query({ createdAtStart: fiveMinutesAgo, eventTypes: 'listing/created,
#   listing/updated' })` and `startAfterSequenceId: lastEventSequenceId`; [examples]
#   notify-new-listings.js). `perPage`: [polling] reads `res.data.meta.perPage`; [cli] sends the
#   CLI's `--limit` ("default and max is 100", [cli-events]) as `perPage`. `resourceId`,
#   `relatedResourceId`: [cli-events] documents `--resource` and `--related-resource`, which [cli]
#   sends to the Build API as `resource-id` and `related-resource-id`; the Integration API's names
#   are not in the local references (assumed to be the camelCase of those, as the other names are).
# - listings/query: `states` and `createdAtStart` ([examples] analytics.js), `authorId` with
#   `states: ['pendingApproval']` ([examples] approve-listings-by-user.js), `ids` ([like]
#   `integrationSdk.listings.query({ ids: listingId })`). `createdAtEnd`: not in the local references;
#   [sitemap] says only "Since the Integration API listing query endpoint is paginated, you will need
#   to filter the results by e.g. the _createdAt_ attribute to retrieve all listings"; the name is
#   assumed as the upper-bound twin of `createdAtStart`.
# - availability_exceptions/query: `listingId`, `start`, `end`, `page` ([web] EditListingPage.duck.js:
#   `sdk.availabilityExceptions.query({ listingId, start, end })` and `{ ...fetchParams, page }`, the
#   Marketplace API's endpoint of the same name). That all three are required is not in the local
#   references (the strict reading).
# - stock_adjustments/query: `listingId`, `start`, `end`: not in the local references ([stock] only
#   links the endpoint); assumed to take the same window as availability_exceptions/query.
# - transactions/query: `createdAtStart` ([examples] analytics.js). `createdAtEnd`, `userId`,
#   `customerId`, `providerId`, `listingId`: not in the local references (the names are those of the
#   community typings; assumed).
# - listings/show, transactions/show, stock_reservations/show: `id` ([web] initiate-privileged.js
#   `sdk.listings.show({ id })`, transition-privileged.js `sdk.transactions.show({ id, include:
#   ['listing'] })`); for stock_reservations/show only the endpoint is in [sdk], the `id` name is
#   assumed like the others.
# - marketplace/show: none ([examples] show-marketplace.js `integrationSdk.marketplace.show()`).
_COMMON = {"include", "page", "perPage"}
PARAMS: dict[str, set[str]] = {
    "events/query": {
        "startAfterSequenceId",
        "createdAtStart",
        "resourceId",
        "relatedResourceId",
        "eventTypes",
        "perPage",
    },
    # Contradicts [ext-data]: metadata "can also be used as filters when searching via ... /listings/query
    # in Integration API"; the stand-in refuses `meta_*` filters (the sync sends none).
    "listings/query": {"ids", "authorId", "states", "createdAtStart", "createdAtEnd", *_COMMON},
    "listings/show": {"id", "include"},
    "availability_exceptions/query": {"listingId", "start", "end", *_COMMON},
    # Contradicts [api-log] 2025-04-10: "Add support for additional query parameters lastTransitions,
    # processNames, hasBooking, ... in the Integration API /transactions/query" and "Add possibility to
    # sort by lastTransitionedAt, ..."; the stand-in refuses those and `sort` (the sync sends none).
    "transactions/query": {
        "createdAtStart",
        "createdAtEnd",
        "userId",
        "customerId",
        "providerId",
        "listingId",
        *_COMMON,
    },
    "transactions/show": {"id", "include"},
    "stock_adjustments/query": {"listingId", "start", "end", *_COMMON},
    "stock_reservations/show": {"id", "include"},
    "marketplace/show": set(),
}


@dataclass
class StandIn:
    market: Marketplace
    token_ttl_s: float = 3600.0
    # [api-ref] "Pagination": a query's pages end at `meta.paginationLimit`; asking for a page past
    # it is a 400. Tests set it low to make the scan narrow its window with createdAtEnd.
    pagination_limit: int = 1000
    faults: list[int] = field(default_factory=list)
    retry_after: str | None = "0.05"
    rate_limit: RateLimit | None = None
    max_concurrent: int | None = None  # [rates]: Integration API concurrency limits (dev/test)
    events_visible_through: int | None = None
    hidden_from_queries: set[str] = field(default_factory=set)
    log: list[Logged] = field(default_factory=list)
    throttled: int = 0
    # Called after a query is answered: lets a test change the marketplace mid-scan.
    after_request: Callable[[str, dict[str, str]], None] | None = None
    tokens: dict[str, float] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _in_flight: int = 0

    def requests_to(self, path: str) -> list[dict[str, str]]:
        with self._lock:
            return [entry.params for entry in self.log if entry.path == path]

    def logged(self, path: str | None = None) -> list[Logged]:
        with self._lock:
            return [entry for entry in self.log if path is None or entry.path == path]

    def matching_events(self, params: dict[str, str]) -> list[dict[str, Any]]:
        """Every event (retention aside) an events/query with these filters can ever return."""
        with self.market.lock:
            wanted = _event_types(params.get("eventTypes"))
            return [e for e in self.market.events if _type_matches(e["attributes"]["eventType"], wanted)]

    # ---- the app ---------------------------------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/auth/token")
        async def token(request: Request) -> Response:
            """The Authentication API: a client-credentials grant with scope `integ` ([sdk]
            fetch_auth_token_from_api.js), or a refresh-token grant (retry_with_refresh_token.js).
            It answers JSON (the SDK's `auth` API asks for `application/json`)."""
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            grant = form.get("grant_type")
            if grant == "refresh_token":
                if form.get("client_id") != CLIENT_ID or form.get("refresh_token") not in self.refresh_tokens:
                    return JSONResponse({"error": "invalid_grant"}, 401)
            elif grant != "client_credentials" or form.get("scope") != "integ":
                return JSONResponse({"error": "invalid_request"}, 400)
            elif form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return JSONResponse({"error": "invalid_client"}, 401)
            value, refresh = uuid.uuid4().hex, uuid.uuid4().hex
            with self._lock:
                self.tokens[value] = time.monotonic() + self.token_ttl_s
                self.refresh_tokens.add(refresh)
            # [sdk] src/fake/token_store.js: access_token, refresh_token, token_type, expires_in.
            return JSONResponse(
                {
                    "access_token": value,
                    "refresh_token": refresh,
                    "token_type": "bearer",
                    "expires_in": int(self.token_ttl_s),
                }
            )

        @app.get("/v1/integration_api/{path:path}")
        def query(path: str, request: Request) -> Response:
            params = dict(request.query_params)
            accept = request.headers.get("accept")
            transit = not _wants_json(accept)
            with self._lock:
                self.log.append(Logged(path, params, accept, time.monotonic()))
                auth = request.headers.get("authorization", "")
                scheme, _, token_value = auth.partition(" ")
                expires = self.tokens.get(token_value) if scheme.lower() == "bearer" else None
                if expires is None or expires < time.monotonic():
                    return _error(ApiError(401, "unauthorized", "invalid or expired access token"), transit)
                if self.faults:
                    status = self.faults.pop(0)
                    resp = _error(ApiError(status, _code(status), "injected fault"), transit)
                    if status == 429 and self.retry_after is not None:
                        resp.headers["Retry-After"] = self.retry_after
                    return resp
                # [rates]: over the rate (or concurrency) limit a request is refused with 429.
                # The references name no Retry-After header, so none is sent: [rates] tells
                # clients to "implement your own retry with random exponential backoff".
                over_rate = self.rate_limit is not None and not self.rate_limit.take()
                over_concurrency = self.max_concurrent is not None and self._in_flight >= self.max_concurrent
                if over_rate or over_concurrency:
                    self.throttled += 1
                    return _error(ApiError(429, "too-many-requests", "Too many requests"), transit)
                self._in_flight += 1
            try:
                with self.market.lock:
                    body = self._answer(path, params)
                resp = _respond(body, 200, transit)
            except ApiError as exc:
                resp = _error(exc, transit)
            finally:
                with self._lock:
                    self._in_flight -= 1
            if self.after_request is not None:
                self.after_request(path, params)
            return resp

        return app

    def _answer(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        handlers: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
            "events/query": self._events,
            "listings/query": self._listings,
            "listings/show": self._show_listing,
            "availability_exceptions/query": self._exceptions,
            "transactions/query": self._transactions,
            "transactions/show": self._show_transaction,
            "stock_adjustments/query": self._adjustments,
            "stock_reservations/show": self._show_reservation,
            "marketplace/show": self._marketplace,
        }
        handler = handlers.get(path)
        if handler is None:
            raise ApiError(404, "not-found", f"no endpoint {path}")
        unknown = sorted(k for k in params if k not in PARAMS[path] and not k.startswith("fields."))
        if unknown:
            raise ApiError(400, "validation-invalid-params", "Invalid query parameters", f"unknown: {unknown}")
        return handler(params)

    # ---- endpoints ---------------------------------------------------------------------------

    def _events(self, params: dict[str, str]) -> dict[str, Any]:
        """`events/query` ([events], [polling]): events "always returned in order of their
        sequence IDs", at most 100 a query, `startAfterSequenceId` for "strictly newer events",
        `createdAtStart` for a point in time, filters by `eventTypes` (comma-separated), the
        resource and related resources. Events past retention are gone."""
        m = self.market
        per_page = _int_param(params, "perPage", MAX_PER_PAGE, 1, MAX_PER_PAGE)
        wanted = _event_types(params.get("eventTypes"))
        found = [e for e in m.events if e["attributes"]["sequenceId"] > m.forgotten_through]
        if self.events_visible_through is not None:
            found = [e for e in found if e["attributes"]["sequenceId"] <= self.events_visible_through]
        if "startAfterSequenceId" in params:
            after = _int_param(params, "startAfterSequenceId", 0, 0, None)
            found = [e for e in found if e["attributes"]["sequenceId"] > after]
        if "createdAtStart" in params:
            since = _time_param(params, "createdAtStart")
            found = [e for e in found if parse_ts(e["attributes"]["createdAt"]) >= since]
        if "resourceId" in params:
            found = [e for e in found if e["attributes"]["resourceId"] == params["resourceId"]]
        if "relatedResourceId" in params:
            found = [e for e in found if _relates_to(e, params["relatedResourceId"])]
        found = [e for e in found if _type_matches(e["attributes"]["eventType"], wanted)]
        # [polling] the poll loop reads `res.data.meta.perPage` to tell a full page.
        return {"data": copy.deepcopy(found[:per_page]), "meta": {"perPage": per_page}}

    def _page(
        self, items: list[dict[str, Any]], params: dict[str, str], included: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """[api-ref] "Pagination": `page` (from 1) and `perPage` (1..100, default 100); meta has
        totalItems, totalPages, page, perPage and paginationLimit."""
        page = _int_param(params, "page", 1, 1, None)
        per_page = _int_param(params, "perPage", MAX_PER_PAGE, 1, MAX_PER_PAGE)
        if page > self.pagination_limit:
            limit = self.pagination_limit
            raise ApiError(400, "validation-invalid-params", "Invalid page", f"page beyond paginationLimit {limit}")
        total = len(items)
        chunk = items[(page - 1) * per_page : page * per_page]
        wanted = {(r["data"]["type"], r["data"]["id"]) for i in chunk for r in _refs(i)}
        unique: dict[tuple[str, str], dict[str, Any]] = {(x["type"], x["id"]): x for x in included}
        return {
            "data": chunk,
            "included": [v for k, v in unique.items() if k in wanted],
            "meta": {
                "totalItems": total,
                "totalPages": (total + per_page - 1) // per_page,
                "page": page,
                "perPage": per_page,
                "paginationLimit": self.pagination_limit,
            },
        }

    def _listing_out(self, lid: str, include: set[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A listing as a query answers it: attributes always; relationship data only for those
        asked for with `include`, and the included resources. This is the strict reading: the
        SDK's own fake of the API ([sdk] src/fake/api.js) answers a listing query without
        `include` with relationships that carry links and no data, and the SDK's docs
        (docs/calling-the-api.md) show relationship data next to the resources `include` brought.
        A client that asks for what it reads is right either way."""
        m = self.market
        listing = copy.deepcopy(m.listings[lid])
        rels: dict[str, Any] = {}
        included: list[dict[str, Any]] = []
        for name in sorted(include):
            if name == "currentStock":
                total = m.stock_total(lid)
                if total is None:
                    rels[name] = ref("stock", None)
                else:
                    sid = m.stock_id(lid)
                    rels[name] = ref("stock", sid)
                    included.append({"id": sid, "type": "stock", "attributes": {"quantity": total}})
            elif name in ("author", "marketplace", "images"):
                rels[name] = listing["relationships"][name]
            else:
                raise ApiError(400, "validation-invalid-params", "Invalid include", f"listing has no {name}")
        listing["relationships"] = rels
        if not rels:
            del listing["relationships"]
        return listing, included

    def _listings(self, params: dict[str, str]) -> dict[str, Any]:
        """`listings/query`, filtered by `states`, ids, author and the createdAt window (parameter
        sources at PARAMS). Deleted listings never appear ([listings]). Without `states`, listings
        in every state: [examples] analytics.js counts "Listings" with no `states` and then draft,
        pendingApproval, published and closed ones as its parts.

        Order: newest first (createdAt descending). Not in the local references: [search] lists
        sorting by "listing creation time" (for the Marketplace API's listings/query) but names no
        default. The stand-in picks one fixed order; the sync assumes none (it reads by createdAt
        window, indexer/sharetribe/api.py `scan`).

        Window: `createdAtStart` inclusive, `createdAtEnd` exclusive, i.e. [start, end). Not in the
        local references for this endpoint (the nearest, [cli-events], says of the CLI's event
        ranges "Ranges are exclusive"); assumed half-open so adjacent windows do not overlap. The
        sync overlaps its windows by a millisecond, so it is right under either reading."""
        states = set(params["states"].split(",")) if params.get("states") else set(LISTING_STATES)
        ids = set(params["ids"].split(",")) if params.get("ids") else None
        start = _time_param(params, "createdAtStart") if "createdAtStart" in params else None
        end = _time_param(params, "createdAtEnd") if "createdAtEnd" in params else None
        include = _include(params)
        items, included = [], []
        for lid, listing in self.market.listings.items():
            attrs = listing["attributes"]
            created = parse_ts(attrs["createdAt"])
            if (
                attrs["state"] not in states
                or lid in self.hidden_from_queries
                or (ids is not None and lid not in ids)
                or (params.get("authorId") and rel_id(listing, "author") != params["authorId"])
                or (start is not None and created < start)
                or (end is not None and created >= end)
            ):
                continue
            resource, extra = self._listing_out(lid, include)
            items.append(resource)
            included += extra
        items.sort(key=lambda r: (r["attributes"]["createdAt"], r["id"]), reverse=True)
        return self._page(items, params, included)

    def _show_listing(self, params: dict[str, str]) -> dict[str, Any]:
        """`listings/show`: 404 for an unknown or deleted listing ([listings]: "Deleted listings
        don't get returned by any listing endpoints"); any state otherwise."""
        lid = params.get("id", "")
        if lid not in self.market.listings:
            raise ApiError(404, "not-found", "Not found", f"listing {lid}")
        resource, included = self._listing_out(lid, _include(params))
        return {"data": resource, "included": included}

    def _exceptions(self, params: dict[str, str]) -> dict[str, Any]:
        """`availability_exceptions/query`: a listing's exceptions overlapping [start, end), in
        pages ([web] EditListingPage.duck.js queries `{ listingId, start, end }` and fetches further
        pages by `meta.totalPages`). That an exception overlapping the window (not only one inside
        it) is returned, the half-open window, the order (by start) and the 366-day bound
        (MAX_WINDOW) are not in the local references: assumed.

        Relationships are dropped: the strict reading of `_listing_out` (no relationship data
        unless asked for with `include`); the stand-in also ignores `include=listing` here, which
        the sync never sends. Not in the local references either way."""
        lid = _required(params, "listingId")
        start, end = _window(params)
        items = [
            copy.deepcopy({k: v for k, v in e.items() if k != "relationships"})
            for e in self.market.exceptions.values()
            if rel_id(e, "listing") == lid
            and parse_ts(e["attributes"]["start"]) < end
            and parse_ts(e["attributes"]["end"]) > start
        ]
        items.sort(key=lambda e: (e["attributes"]["start"], e["id"]))
        return self._page(items, params, [])

    def _adjustments(self, params: dict[str, str]) -> dict[str, Any]:
        """`stock_adjustments/query`: a listing's adjustments whose `at` is in [start, end),
        oldest first, reservation-made ones included ([stock])."""
        lid = _required(params, "listingId")
        start, end = _window(params)
        include = _include(params)
        items, included = [], []
        for adj in self.market.adjustments.values():
            if rel_id(adj, "listing") != lid or not start <= parse_ts(adj["attributes"]["at"]) < end:
                continue
            out = copy.deepcopy(adj)
            out["relationships"] = {k: v for k, v in out["relationships"].items() if k in include}
            items.append(out)
            rid = rel_id(adj, "stockReservation")
            if "stockReservation" in include and rid in self.market.reservations:
                included.append(_bare(self.market.reservations[rid]))
        items.sort(key=lambda a: (a["attributes"]["at"], a["id"]))
        return self._page(items, params, included)

    def _transaction_out(self, tx: dict[str, Any], include: set[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        m = self.market
        out = copy.deepcopy(tx)
        out["relationships"] = {k: v for k, v in tx["relationships"].items() if k in include}
        unknown = sorted(include - set(tx["relationships"]))
        if unknown:
            raise ApiError(400, "validation-invalid-params", "Invalid include", f"transaction has no {unknown}")
        included: list[dict[str, Any]] = []
        if "booking" in include and (bid := rel_id(tx, "booking")) in m.bookings:
            included.append(_bare(m.bookings[bid]))
        if "stockReservation" in include and (rid := rel_id(tx, "stockReservation")) in m.reservations:
            included.append(_bare(m.reservations[rid]))
        if "listing" in include:
            lid = rel_id(tx, "listing") or ""
            if lid in m.listings:
                included.append(_bare(m.listings[lid]))
            else:
                # [listings]: a deleted listing "can be returned as an included related resource
                # with no other data than the listing id and `deleted: true`".
                included.append({"id": lid, "type": "listing", "attributes": {"deleted": True}})
        return out, included

    def _transactions(self, params: dict[str, str]) -> dict[str, Any]:
        """`transactions/query`, filtered by listing, customer, provider or user (either party)
        and the createdAt window. Not in the local references: the filter names and their meaning
        (only `createdAtStart` is, [examples] analytics.js; see PARAMS), that `userId` matches
        either party, the order (newest first; [api-log] adds sorting by "lastTransitionedAt,
        lastMessageAt, bookingStart and bookingEnd" but names no default) and the half-open
        [createdAtStart, createdAtEnd) window, assumed as for listings/query (see `_listings`)."""
        include = _include(params)
        start = _time_param(params, "createdAtStart") if "createdAtStart" in params else None
        end = _time_param(params, "createdAtEnd") if "createdAtEnd" in params else None
        items, included = [], []
        for tx in self.market.transactions.values():
            created = parse_ts(tx["attributes"]["createdAt"])
            parties = {rel_id(tx, "customer"), rel_id(tx, "provider")}
            if (
                (params.get("listingId") and rel_id(tx, "listing") != params["listingId"])
                or (params.get("customerId") and rel_id(tx, "customer") != params["customerId"])
                or (params.get("providerId") and rel_id(tx, "provider") != params["providerId"])
                or (params.get("userId") and params["userId"] not in parties)
                or (start is not None and created < start)
                or (end is not None and created >= end)
            ):
                continue
            out, extra = self._transaction_out(tx, include)
            items.append(out)
            included += extra
        items.sort(key=lambda t: (t["attributes"]["createdAt"], t["id"]), reverse=True)
        return self._page(items, params, included)

    def _show_transaction(self, params: dict[str, str]) -> dict[str, Any]:
        """`transactions/show` with `id` and `include` ([web] transition-privileged.js
        `sdk.transactions.show({ id, include: ['listing'] })`); relationships and included
        resources as `_transaction_out`. An unknown id is a 404 `not-found`: the error code is
        [web] src/util/types.js `ERROR_CODE_NOT_FOUND = 'not-found'`, tested by src/util/errors.js
        `isNotFoundError` as "error?.status === 404"; that Flex answers it for an unknown
        transaction is not in the local references, assumed as for a deleted listing
        ([listings])."""
        tid = params.get("id", "")
        if tid not in self.market.transactions:
            raise ApiError(404, "not-found", "Not found", f"transaction {tid}")
        out, included = self._transaction_out(self.market.transactions[tid], _include(params))
        return {"data": out, "included": included}

    def _show_reservation(self, params: dict[str, str]) -> dict[str, Any]:
        """`stock_reservations/show` ([sdk] endpoint list). A 404 `not-found` for an unknown id, as
        `_show_transaction`. Relationship data only for those asked for with `include` (the strict
        reading of `_listing_out`); included resources are never added, even when asked for (the
        sync asks for none). Beyond the endpoint's existence, not in the local references."""
        rid = params.get("id", "")
        if rid not in self.market.reservations:
            raise ApiError(404, "not-found", "Not found", f"stock reservation {rid}")
        include = _include(params)
        out = copy.deepcopy(self.market.reservations[rid])
        out["relationships"] = {k: v for k, v in out["relationships"].items() if k in include}
        return {"data": out, "included": []}

    def _marketplace(self, params: dict[str, str]) -> dict[str, Any]:
        """`marketplace/show`: the marketplace resource with its `name` ([sdk] src/fake/api.js
        `marketplace.show` answers `id`, type `marketplace` and attributes `name`, `description`;
        [examples] show-marketplace.js reads `marketplace.attributes.name`). The stand-in leaves out
        `description`, `meta` and `included`."""
        return {"data": {"id": self.market.marketplace_id, "type": "marketplace", "attributes": {"name": "stand-in"}}}


# ---- wire format -------------------------------------------------------------------------------


def _wants_json(accept: str | None) -> bool:
    """[api-ref]: the Integration API "support[s] both JSON and Transit formats", and the SDK asks
    for Transit (`Accept: application/transit+json`, [sdk] integration_sdk.js createHeaders) and
    reads a body as Transit only when its Content-Type says so ([sdk] transit_response.js).
    Which one a request without an explicit choice gets is not documented: the stand-in answers
    JSON only to a client that asks for `application/json` (and does not prefer Transit), and
    Transit to everyone else, so a client that forgets to ask fails here, not in production."""
    if not accept:
        return False
    quality: dict[str, float] = {}
    for part in accept.split(","):
        media, *opts = (p.strip() for p in part.split(";"))
        q = 1.0
        for opt in opts:
            name, _, value = opt.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media.lower()] = q
    json_q = quality.get("application/json", 0.0)
    return json_q > 0 and json_q >= quality.get("application/transit+json", 0.0)


def to_transit(value: Any) -> Any:
    """Transit JSON (non-verbose, without caching, which readers accept): maps are
    `["^ ", k, v, ...]`, keys keywords (`~:key`), UUIDs `~u…`, timestamps `~t…`, and strings
    starting with `~`, `^` or a backtick escaped with `~` ([sdk] src/fake/api.js shows the
    shapes)."""
    if isinstance(value, dict):
        out: list[Any] = ["^ "]
        for k, v in value.items():
            out += [f"~:{k}", to_transit(v)]
        return out
    if isinstance(value, list):
        return [to_transit(v) for v in value]
    if isinstance(value, str):
        if _UUID.fullmatch(value):
            return f"~u{value}"
        if _TIMESTAMP.fullmatch(value):
            return f"~t{value}"
        if value[:1] in ("~", "^", "`"):
            return f"~{value}"
    return value


def _respond(body: dict[str, Any], status: int, transit: bool) -> Response:
    if transit:
        return Response(json.dumps(to_transit(body)), status, media_type=TRANSIT)
    return JSONResponse(body, status)


def _error(exc: ApiError, transit: bool) -> Response:
    """[api-ref] "Errors": `{"errors": [{id, status, code, title, details}]}`."""
    err: dict[str, Any] = {"id": str(uuid.uuid4()), "status": exc.status, "code": exc.code, "title": exc.title}
    if exc.details:
        err["details"] = exc.details
    return _respond({"errors": [err]}, exc.status, transit)


def _code(status: int) -> str:
    return {429: "too-many-requests", 500: "server-error", 502: "bad-gateway", 503: "service-unavailable"}.get(
        status, "error"
    )


def _event_types(raw: str | None) -> set[str] | None:
    """`eventTypes`: full types (`listing/updated`), or a bare resource type (`listing`) for all of
    its types, as the CLI over the same events documents ([cli-events] "You can filter with full
    event type name or by only the resource type"). No wildcard syntax (`listing/*`) is
    documented anywhere: the stand-in refuses it with 400, as it does unknown types."""
    if raw is None:
        return None
    wanted = {t.strip() for t in raw.split(",") if t.strip()}
    bad = sorted(t for t in wanted if t not in EVENT_TYPES and t not in RESOURCE_TYPES)
    if bad or not wanted:
        raise ApiError(400, "validation-invalid-params", "Invalid eventTypes", f"unknown event types: {bad}")
    return wanted


def _type_matches(event_type: str, wanted: set[str] | None) -> bool:
    return wanted is None or event_type in wanted or event_type.split("/")[0] in wanted


def _relates_to(event: dict[str, Any], rid: str) -> bool:
    """The `relatedResourceId` filter of events/query: an event whose resource (or previous
    values) has a relationship to `rid`. Source: [cli-events] `--related-resource` "Show events
    that are related to a specific resource ID", "events about the listing itself as well as any
    other event that is for a resource that has a relationship to the given listing (such as
    availability exceptions, booking, transactions, and so on)" ([cli] sends it to the Build API as
    `related-resource-id`; the Integration API's parameter is not in the local references).

    Contradicts that source, not changed (the sync does not use this filter): the stand-in does
    not return the events about `rid` itself (e.g. `listing/created` of the listing), and misses
    booking events for a listing id, since a booking's only relationship is its transaction."""
    attrs = event["attributes"]
    for container in (attrs.get("resource"), attrs.get("previousValues")):
        for rel in ((container or {}).get("relationships") or {}).values():
            data = rel.get("data") if isinstance(rel, dict) else None
            items = data if isinstance(data, list) else [data]
            if any(isinstance(d, dict) and d.get("id") == rid for d in items):
                return True
    return False


def _refs(resource: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for rel in (resource.get("relationships") or {}).values():
        data = rel.get("data")
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict):
                out.append({"data": item})
    return out


def _bare(resource: dict[str, Any]) -> dict[str, Any]:
    """An included resource: its attributes, and no relationship data (not asked for)."""
    return copy.deepcopy({k: v for k, v in resource.items() if k != "relationships"})


def _include(params: dict[str, str]) -> set[str]:
    return {p for p in params.get("include", "").split(",") if p}


def _required(params: dict[str, str], name: str) -> str:
    if not params.get(name):
        raise ApiError(400, "validation-missing-key", "Missing parameter", f"{name} is required")
    return params[name]


def _int_param(params: dict[str, str], name: str, default: int, low: int, high: int | None) -> int:
    try:
        value = int(params.get(name, default))
    except ValueError as exc:
        raise ApiError(400, "validation-invalid-params", "Invalid parameter", f"{name}: not an integer") from exc
    if value < low or (high is not None and value > high):
        raise ApiError(400, "validation-invalid-params", "Invalid parameter", f"{name}: out of range")
    return value


def _time_param(params: dict[str, str], name: str) -> datetime:
    try:
        return parse_ts(params[name])
    except ValueError as exc:
        raise ApiError(400, "validation-invalid-params", "Invalid parameter", f"{name}: not a timestamp") from exc


def _window(params: dict[str, str]) -> tuple[datetime, datetime]:
    _required(params, "start")
    _required(params, "end")
    start, end = _time_param(params, "start"), _time_param(params, "end")
    if not start < end or end - start > MAX_WINDOW:
        raise ApiError(400, "validation-invalid-params", "Invalid parameter", "start < end, at most 366 days apart")
    return start, end
