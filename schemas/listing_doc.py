"""One listing's index document: merging events into it, and rendering it back out.

A document is built from several event streams (the listing itself, availability exceptions,
bookings, stock). Its `src` keeps every component with the sequenceId of the event that last
set it, deletions as tombstones. Merging is therefore order-independent: applying any
permutation of a set of events, with duplicates, gives the same `src` as applying them in
sequenceId order, because each component keeps only its newest event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from schemas.availability import PLAN_TYPES, listing_runs
from schemas.events import ChangeEvent
from schemas.index_layout import F
from schemas.search_schema import SchemaSet, extract_values
from schemas.stock import ADJUSTMENTS, SNAPSHOT, available_stock, merge_adjustment

LISTING = "listing"

# Attributes a public listing resource may carry; `privateData` is not among them.
PUBLIC_ATTRIBUTES = (
    "title",
    "description",
    "geolocation",
    "price",
    "publicData",
    "metadata",
    "state",
    "deleted",
    "createdAt",
    "availabilityPlan",
)


def empty_source() -> dict[str, Any]:
    return {LISTING: None}


def merge(src: dict[str, Any] | None, events: Iterable[ChangeEvent]) -> tuple[dict[str, Any], bool]:
    """Apply events to a document source; returns (new source, whether anything changed).

    Components are `{"seq": n, "data": {...} | None}`; `data` None is a tombstone, kept so a
    late, older event cannot bring a deleted thing back.
    """
    out = dict(src) if src else empty_source()
    changed = False
    for ev in events:
        entry = {"seq": ev.seq, "data": ev.resource}
        if ev.family == LISTING:
            current = out.get(LISTING)
            if current is None or current["seq"] < ev.seq:
                out[LISTING] = entry
                changed = True
            stock = (ev.resource or {}).get("currentStock")
            snapshot = out.get(SNAPSHOT)
            if stock is not None and (snapshot is None or snapshot["seq"] < ev.seq):
                # Its own component: a listing event without currentStock keeps the last snapshot.
                out[SNAPSHOT] = {"seq": ev.seq, "data": {"quantity": stock}}
                changed = True
            continue
        bucket = dict(out.get(ev.family) or {})
        current = bucket.get(ev.resource_id)
        if ev.family == ADJUSTMENTS:
            merged = merge_adjustment(current, ev)
            if merged != current:
                bucket[ev.resource_id] = merged
                out[ev.family] = bucket
                changed = True
            continue
        if current is None or current["seq"] < ev.seq:
            bucket[ev.resource_id] = entry
            out[ev.family] = bucket
            changed = True
    return out, changed


def overlay(snapshot: dict[str, Any], absent: Mapping[str, int], current: dict[str, Any] | None) -> dict[str, Any]:
    """A source snapshot laid under what the index already knows, component by component.

    `snapshot` holds components read from the source of truth, each stamped with a sequenceId
    the read is known to reflect. `absent[family]` is the stamp of the read that found no
    component of that family (`listing`, `stockSnapshot`, or a component family): an indexed
    component that old is gone from the source and becomes a tombstone. A component newer than
    the snapshot's stamp wins, so events applied meanwhile are never undone, and events that
    arrive later merge on top as usual. Overlaying again with a newer `current` gives what one
    overlay of that `current` gives, which is what lets a re-sync catch up.
    """
    cur = current or {}
    out: dict[str, Any] = {}
    for key in (LISTING, SNAPSHOT):
        picked = _pick(snapshot.get(key), cur.get(key), absent.get(key))
        if picked is not None or key == LISTING:
            out[key] = picked
    families = {k for k in (*snapshot, *cur) if k not in (LISTING, SNAPSHOT)}
    for family in sorted(families):
        mine, theirs = snapshot.get(family) or {}, cur.get(family) or {}
        merged: dict[str, Any] = {}
        for rid in sorted(mine.keys() | theirs.keys()):
            picked = _pick(mine.get(rid), theirs.get(rid), absent.get(family))
            if picked is not None:
                merged[rid] = picked
        if merged:
            out[family] = merged
    return out


def _pick(base: dict[str, Any] | None, current: dict[str, Any] | None, absent_at: int | None) -> dict[str, Any] | None:
    if current is None or (base is not None and current["seq"] <= base["seq"]):
        return base
    if base is None and absent_at is not None and current["seq"] <= absent_at:
        return {"seq": absent_at, "data": None}
    return current


def source_seq(src: dict[str, Any]) -> int:
    """The newest sequenceId the document reflects: its external version."""
    best = 0
    for key, value in src.items():
        if value is None:
            continue
        seqs = [value["seq"]] if key in (LISTING, SNAPSHOT) else [c["seq"] for c in value.values()]
        best = max([best, *seqs])
    return best


# The fields derived from the plan, exceptions and bookings alone.
AVAILABILITY_FIELDS = (F.PLAN_TYPE, F.AVAILABILITY, F.HORIZON_FROM)


def build_document(
    listing_id: str,
    src: dict[str, Any],
    schemas: SchemaSet,
    today: date,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The indexed fields, derived only from `src`, the index's schemas and the day (whose
    availability horizon starts today), so a rebuild or the daily roll can recompute them.

    `previous` (the stored document, `src` and availability fields) lets an edit that leaves
    plan, exceptions and bookings alone reuse the availability runs instead of recomputing them.
    """
    listing = (src.get(LISTING) or {}).get("data")
    doc: dict[str, Any] = {F.ID: listing_id, F.SEQ: source_seq(src), F.SOURCE: src}
    stock = available_stock(src)
    if stock is not None:
        doc[F.STOCK] = stock
    if listing is None:
        # Events for a listing we have not seen yet, or a deleted one: kept, never visible.
        doc[F.STATE] = None
        doc[F.DELETED] = (src.get(LISTING) or {}).get("seq") is not None
        return doc
    doc[F.STATE] = listing["state"]
    doc[F.DELETED] = bool(listing["deleted"])
    doc[F.TITLE] = listing["title"]
    doc[F.DESCRIPTION] = listing["description"]
    doc[F.CREATED_AT] = listing["createdAt"]
    doc[F.AUTHOR] = listing["authorId"]
    price = listing["price"]
    if price is not None:
        doc[F.PRICE] = price["amount"]
        doc[F.CURRENCY] = price["currency"]
    geo = listing["geolocation"]
    if geo is not None:
        doc[F.GEO] = {"lat": geo["lat"], "lon": geo["lng"]}
    plan = listing["availabilityPlan"]
    if previous is not None and _same_availability(previous, src, today):
        # Only the listing's other fields changed (the usual edit): the runs are the same.
        doc.update({k: previous[k] for k in AVAILABILITY_FIELDS if k in previous})
    else:
        found = listing_runs(plan, src, today)
        if plan is not None and found is not None:
            doc[F.PLAN_TYPE] = next(kind for kind, name in PLAN_TYPES.items() if name == plan["type"])
            doc[F.AVAILABILITY] = [
                {
                    F.RUN_LEVEL: r.level,
                    F.RUN_START: r.start * 60_000,
                    F.RUN_END: r.end * 60_000,
                    F.RUN_LENGTH: r.end - r.start,
                }
                for r in found
            ]
            doc[F.HORIZON_FROM] = today.isoformat()
    if len(schemas):
        values, skipped = extract_values(schemas, listing)
        doc[F.PUBLIC_DATA] = values["pub"]
        doc[F.METADATA] = values["meta"]
        if skipped:
            doc[F.SKIPPED] = skipped
    return doc


def _same_availability(previous: dict[str, Any], src: dict[str, Any], today: date) -> bool:
    before = previous.get(F.SOURCE) or {}
    if previous.get(F.HORIZON_FROM) != today.isoformat():
        return False
    old_listing = (before.get(LISTING) or {}).get("data") or {}
    new_listing = (src.get(LISTING) or {}).get("data") or {}
    return (
        old_listing.get("availabilityPlan") == new_listing.get("availabilityPlan")
        and before.get("availabilityException") == src.get("availabilityException")
        and before.get("booking") == src.get("booking")
    )


def public_resource(
    listing_id: str,
    src: dict[str, Any],
    attributes: Iterable[str] | None = None,
    *,
    include: frozenset[str] | None = None,
    image_limit: int | None = None,
) -> dict[str, Any]:
    """The Flex listing resource for a public response; `attributes` selects sparse fields.

    Sparse names may be top-level (`title`) or one level into extended data
    (`publicData.listingType`). With `include` (Flex's parameter) the relationships are exactly
    the included ones that the index can fill (`author`, `images`), as in Flex's answers;
    without it, `author` alone, as this API has always answered.
    """
    listing = (src.get(LISTING) or {}).get("data") or {}
    attrs: dict[str, Any]
    if attributes is None:
        # Every search renders this way unless `fields.listing` is given: no name to split.
        attrs = {n: listing.get(n) for n in PUBLIC_ATTRIBUTES}
    else:
        names = tuple(attributes)
        whole = [n for n in names if "." not in n]
        attrs = {n: listing.get(n) for n in whole}
        for name in names:
            head, _, key = name.partition(".")
            if key and head not in whole:
                part = attrs.setdefault(head, {})
                value = (listing.get(head) or {}).get(key)
                if value is not None:
                    part[key] = value
    for name in ("publicData", "metadata"):
        if name in attrs and attrs[name] is None:
            attrs[name] = {}
    author = listing.get("authorId")
    relationships: dict[str, Any] = {}
    if include is None or "author" in include:
        relationships["author"] = {"data": {"id": author, "type": "user"} if author else None}
    if include is not None and "images" in include:
        images = listing.get("imageIds") or []
        if image_limit is not None:
            images = images[:image_limit]
        relationships["images"] = {"data": [{"id": i, "type": "image"} for i in images]}
    return {"id": listing_id, "type": "listing", "attributes": attrs, "relationships": relationships}


def included_entities(resources: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flex's `included` for the relationships `public_resource` filled: each user and image once.

    The index knows only their ids; a profile and image variants live in Flex. The entities
    still carry the attribute objects a client reads first (`profile`, `variants`), empty, so the
    Web Template's denormalisation (which throws on a relationship with no entity) and its
    components work."""
    seen: set[tuple[str, str]] = set()
    out: list[dict[str, Any]] = []
    for res in resources:
        for rel in (res.get("relationships") or {}).values():
            data = rel.get("data")
            for ref in data if isinstance(data, list) else [data]:
                if not ref or (ref["type"], ref["id"]) in seen:
                    continue
                seen.add((ref["type"], ref["id"]))
                attrs: dict[str, Any] = {"profile": {}} if ref["type"] == "user" else {"variants": {}}
                out.append({"id": ref["id"], "type": ref["type"], "attributes": attrs})
    return out
