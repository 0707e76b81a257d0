"""Reading the source of truth (the Integration API) as stamped listing snapshots.

A full re-sync and the reconciliation job both need "what the marketplace holds now", in the
same shape as documents built from events. Every component read is stamped with a sequenceId
the read is known to reflect: the newest event seen at Flex just before the read (or the
newest one we accepted, if higher). `schemas.listing_doc.overlay` then lays the snapshot under
what the index knows; events newer than the stamp win, older ones are superseded.

Full resources (listings, exceptions, bookings) converge whatever the stamp, because any later
change comes with an event carrying the whole resource. Stock is the exception:
- its base is the listing's `currentStock`, read with `include=currentStock` (the only place
  stock totals are: a listing resource, and so a listing event, carries none). Reservations are
  never read or subtracted: Flex records what a reservation takes or gives back as stock
  adjustments, which `currentStock` already counts (Sharetribe docs, references/stock "Stock
  reservation states");
- adjustments are deltas, so a stock snapshot must reflect exactly the adjustments up to its
  stamp: the tail of the event log is read again after each page, and a listing whose stock
  moved meanwhile is read again on its own.

A listing is gone only when the API says so: `listings/show` answers 404 ("Deleted listings
don't get returned by any listing endpoints", concepts/listings-overview "Deleted") or shows it
`deleted: true` (`SourceScan.confirm`). A listing the scan did not return is asked about on
its own, never tombstoned for being absent.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from indexer.pipeline import booking_links, stats
from indexer.pipeline.booking_links import Link
from indexer.pipeline.intake import event_limits
from indexer.services import Services
from indexer.sharetribe.api import (
    LISTING_INCLUDE,
    PAGE_SIZE,
    IntegrationApi,
    index_included,
    relationship_id,
    resolve_included,
)
from indexer.sharetribe.checkpoint import load_checkpoint, replay_start
from schemas.availability import utc_today
from schemas.events import DEFAULT_LIMITS, LISTING_STATES, ChangeEvent, EventLimits, classify
from schemas.listing_doc import LISTING
from schemas.stock import SNAPSHOT

log = logging.getLogger(__name__)

BOOKING, EXCEPTION, ADJUSTMENT = "booking", "availabilityException", "stockAdjustment"
# A listing whose stock keeps moving while we read it is read again at most this often.
STOCK_RETRIES = 5
# Flex answers availability exceptions for at most 366 days per query.
EXCEPTION_WINDOW_DAYS = 366


@dataclass
class ListingSnapshot:
    listing_id: str
    src: dict[str, Any]
    # Component family -> the stamp of the read that found none of it.
    absent: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return {"lid": self.listing_id, "src": self.src, "absent": self.absent}


@dataclass
class ScanStats:
    listings: int = 0
    exceptions: int = 0
    bookings: int = 0
    # Transactions with a booking whose links were recorded, and bookings that waited for them.
    links: int = 0
    bookings_released: int = 0
    skipped: list[str] = field(default_factory=list)
    stock_rereads: int = 0
    # Indexed listings the scan did not return, asked about one by one; those the API found,
    # and those it confirmed gone (404 or `deleted: true`).
    rechecked: int = 0
    rechecked_found: int = 0
    confirmed_gone: int = 0


class TailTracker:
    """Follows the newest event at Flex, read-only, so reads can be stamped."""

    def __init__(
        self, api: IntegrationApi, *, after: int | None, created_at_start: str | None, floor: Callable[[], int]
    ) -> None:
        self.api = api
        self.cursor = after
        self.created_at_start = created_at_start
        self.floor = floor
        self.tail = after or 0

    def poll(self) -> list[ChangeEvent]:
        """Every event since the last poll (classified; others only move the cursor)."""
        seen: list[ChangeEvent] = []
        while True:
            page = self.api.events(after=self.cursor, created_at_start=None if self.cursor else self.created_at_start)
            for raw in page:
                seq = (raw.get("attributes") or {}).get("sequenceId") if isinstance(raw, dict) else None
                if isinstance(seq, int):
                    self.cursor = max(self.cursor or 0, seq)
                    self.tail = max(self.tail, seq)
                found = classify(raw)
                if isinstance(found, ChangeEvent):
                    seen.append(found)
            if len(page) < PAGE_SIZE:
                return seen

    def current(self) -> int:
        """A sequenceId every read from now on reflects, from the last poll (no request)."""
        return max(self.tail, self.floor())

    def stamp(self) -> int:
        """A sequenceId every read from now on reflects, polling the tail first."""
        self.poll()
        return self.current()


def _synthetic(
    family: str, stamp: int, resource: dict[str, Any], limits: EventLimits = DEFAULT_LIMITS
) -> ChangeEvent | None:
    """A resource read from the API, classified exactly as an event carrying it would be."""
    event = {
        "id": str(uuid.uuid4()),
        "type": "event",
        "attributes": {
            "sequenceId": stamp,
            "eventType": f"{family}/updated",
            "resourceId": resource.get("id"),
            "resourceType": family,
            "resource": resource,
        },
    }
    found = classify(event, limits)
    return found if isinstance(found, ChangeEvent) else None


def _with_listing(resource: dict[str, Any], listing_id: str) -> dict[str, Any]:
    rels = dict(resource.get("relationships") or {})
    rels["listing"] = {"data": {"id": listing_id, "type": "listing"}}
    return {**resource, "relationships": rels}


def _ref(resource: dict[str, Any], name: str) -> tuple[str, str] | None:
    rel = (resource.get("relationships") or {}).get(name)
    data = rel.get("data") if isinstance(rel, dict) else None
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        return str(data.get("type")), data["id"]
    return None


def _deleted(resource: dict[str, Any]) -> bool:
    """A listing resource Flex still shows but marks deleted (its `deleted` attribute)."""
    attrs = resource.get("attributes")
    return isinstance(attrs, dict) and attrs.get("deleted") is True


class SourceScan:
    def __init__(
        self,
        api: IntegrationApi,
        tracker: TailTracker,
        *,
        today: date,
        limits: EventLimits = DEFAULT_LIMITS,
        record_links: Callable[[list[Link]], int] | None = None,
    ) -> None:
        self.api = api
        self.limits = limits
        self.tracker = tracker
        self.today = today
        self.record_links = record_links
        self.stats = ScanStats()
        self.tx_stamp = 0
        self.start_stamp = 0
        self._by_listing: dict[str, dict[str, dict[str, Any]]] = defaultdict(lambda: defaultdict(dict))

    def read_transactions(self) -> None:
        """Bookings, which Flex exposes through their transactions (a booking's one-to-one
        relationship is its transaction; a transaction's are `listing`, `booking` and
        `stockReservation`: references/events). Reservations are not read: their effect on stock
        is in `currentStock` already (references/stock).

        Each transaction with a booking is also recorded as a link (transaction and booking ->
        listing), so later booking events, whose resources name the transaction and whose
        deletions may carry only nulls, find their listing without waiting."""
        self.tx_stamp = self.tracker.stamp()
        # `include=listing` makes sure the listing relationship is in the answer; its attributes
        # are not needed (sparse fields, as in integration-api-examples scripts/analytics.js).
        query = {"include": "booking,listing", "fields.listing": "none"}
        for data, included in self.api.scan("transactions/query", query):
            found = index_included(included)
            links: list[Link] = []
            for tx in data:
                listing_id = relationship_id(tx, "listing")
                ref = _ref(tx, "booking")
                if listing_id is None or ref is None:
                    continue
                if isinstance(tx.get("id"), str):
                    links.append(Link(tx["id"], listing_id, ref[1]))
                resource = found.get(ref)
                if resource is None:
                    continue
                ev = _synthetic(BOOKING, self.tx_stamp, _with_listing(resource, listing_id), self.limits)
                if ev is None:
                    self.stats.skipped.append(f"booking {ref[1]}: not valid")
                    continue
                self._by_listing[ev.listing_id][BOOKING][ev.resource_id] = {"seq": ev.seq, "data": ev.resource}
                self.stats.bookings += 1
            if links and self.record_links is not None:
                self.stats.links += len(links)
                self.stats.bookings_released += self.record_links(links)

    def listings(self) -> Iterator[list[ListingSnapshot]]:
        """Every listing in every state, a page at a time."""
        self.start_stamp = stamp = self.tracker.stamp()
        query = {"states": ",".join(LISTING_STATES), **LISTING_INCLUDE}
        pager = self.api.scan("listings/query", query)
        while True:
            page = next(pager, None)
            if page is None:
                return
            data, included = page
            resources = {str(r.get("id")): resolve_included(r, included) for r in data}
            stamps = dict.fromkeys(resources, stamp)
            for lid in self._stock_moved(stamp, set(resources)):
                got = self._reread(lid)
                if got is None or _deleted(got[0]):
                    # Deleted since the page was read: its deletion event is newer than `stamp`.
                    resources.pop(lid, None)
                else:
                    resources[lid], stamps[lid] = got
            snapshots = [s for lid, res in resources.items() if (s := self._listing(lid, res, stamps[lid]))]
            self._add_exceptions(snapshots)
            self.stats.listings += len(snapshots)
            yield snapshots
            # The tail was polled after this page was read, so it stamps the next read (and saves
            # a request per page).
            stamp = self.tracker.current()

    def confirm(self, listing_ids: list[str]) -> tuple[list[ListingSnapshot], dict[str, dict[str, int]]]:
        """Indexed listings the scan did not return, asked about one by one (`listings/show`).

        A listing the API shows is snapshotted like a scanned one. Only a 404 or `deleted: true`
        makes a listing gone (returned with the `absent` stamps its tombstone takes); a listing
        in neither list (not valid) is left as the index has it."""
        stamp = self.tracker.stamp()
        shown: dict[str, dict[str, Any]] = {}
        gone: dict[str, dict[str, int]] = {}
        for lid in listing_ids:
            self.stats.rechecked += 1
            resource = self.api.show_listing(lid)
            if resource is None or _deleted(resource):
                gone[lid] = self.gone_absent(stamp)
            else:
                shown[lid] = resource
        stamps = dict.fromkeys(shown, stamp)
        for lid in self._stock_moved(stamp, set(shown)):
            got = self._reread(lid)
            if got is None or _deleted(got[0]):
                del shown[lid]
                gone[lid] = self.gone_absent(stamp)
            else:
                shown[lid], stamps[lid] = got
        snapshots = [s for lid, res in shown.items() if (s := self._listing(lid, res, stamps[lid]))]
        self._add_exceptions(snapshots)
        self.stats.rechecked_found += len(snapshots)
        self.stats.confirmed_gone += len(gone)
        return snapshots, gone

    def gone_absent(self, stamp: int) -> dict[str, int]:
        """Stamps for a listing the API confirmed gone by a read after `stamp`."""
        return {LISTING: stamp, SNAPSHOT: stamp, ADJUSTMENT: stamp, EXCEPTION: stamp, BOOKING: self.tx_stamp}

    def _stock_moved(self, stamp: int, listing_ids: set[str]) -> set[str]:
        """Listings with a stock adjustment after `stamp`: their `currentStock` may or may not
        include it. Listing events carry no stock, so adjustments are the only deltas."""
        if not listing_ids:
            return set()
        return {
            ev.listing_id
            for ev in self.tracker.poll()
            if ev.seq > stamp and ev.family == ADJUSTMENT and ev.listing_id in listing_ids
        }

    def _reread(self, listing_id: str) -> tuple[dict[str, Any], int] | None:
        resource: dict[str, Any] | None = None
        stamp = 0
        for _ in range(STOCK_RETRIES):
            self.stats.stock_rereads += 1
            stamp = self.tracker.stamp()
            resource = self.api.show_listing(listing_id)
            if resource is None:
                return None
            if not self._stock_moved(stamp, {listing_id}):
                return resource, stamp
        log.warning("stock of listing %s kept moving while read; it may be off until its next change", listing_id)
        return (resource, stamp) if resource is not None else None

    def _listing(self, listing_id: str, resource: dict[str, Any], stamp: int) -> ListingSnapshot | None:
        ev = _synthetic(LISTING, stamp, resource, self.limits)
        if ev is None:
            self.stats.skipped.append(f"listing {listing_id}: not valid")
            return None
        src: dict[str, Any] = {LISTING: {"seq": stamp, "data": ev.resource}}
        stock = (ev.resource or {}).get("currentStock")
        if stock is not None:
            # The base every adjustment after `stamp` adds to; reservations are in it already.
            src[SNAPSHOT] = {"seq": stamp, "data": {"quantity": stock}}
        for family, components in self._by_listing.pop(ev.listing_id, {}).items():
            src[family] = dict(components)
        absent = {SNAPSHOT: stamp, ADJUSTMENT: stamp, BOOKING: self.tx_stamp}
        return ListingSnapshot(ev.listing_id, src, absent)

    def _add_exceptions(self, snapshots: list[ListingSnapshot]) -> None:
        if not snapshots:
            return
        stamp = self.tracker.stamp()
        start = datetime.combine(self.today - timedelta(days=1), datetime.min.time(), UTC)
        end = start + timedelta(days=EXCEPTION_WINDOW_DAYS)
        window = {"start": _iso(start), "end": _iso(end)}
        for snap in snapshots:
            snap.absent[EXCEPTION] = stamp
            if (snap.src[LISTING]["data"] or {}).get("availabilityPlan") is None:
                continue
            found: dict[str, Any] = {}
            query = {"listingId": snap.listing_id, **window}
            for data, _ in self.api.pages("availability_exceptions/query", query):
                for resource in data:
                    ev = _synthetic(EXCEPTION, stamp, _with_listing(resource, snap.listing_id), self.limits)
                    if ev is not None:
                        found[ev.resource_id] = {"seq": stamp, "data": ev.resource}
            if found:
                snap.src[EXCEPTION] = found
                self.stats.exceptions += len(found)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def scan_from_checkpoint(services: Services, api: IntegrationApi) -> SourceScan:
    """A scan whose tail tracking starts where the sync's checkpoint is (or a little before now),
    and whose transaction reads record booking links in this deployment's Redis."""
    checkpoint = load_checkpoint(services)

    def floor() -> int:
        # The newest sequenceId accepted so far: every read from now on reflects it.
        raw = services.redis.hget(services.keys.stats, stats.ACCEPTED_SEQ)
        return int(raw) if raw is not None else 0

    def record_links(links: list[Link]) -> int:
        return booking_links.link(services.redis, services.keys, links)

    tracker = TailTracker(
        api,
        after=checkpoint.sequence_id,
        created_at_start=checkpoint.created_at_start or replay_start(services),
        floor=floor,
    )
    return SourceScan(
        api, tracker, today=utc_today(), limits=event_limits(services.settings), record_links=record_links
    )
