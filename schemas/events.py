"""Flex-shaped change events: validation and the normalised form the indexer consumes.

`classify` turns one raw JSON value into exactly one of: a `ChangeEvent` (valid, normalised,
`privateData` already dropped so it is never stored anywhere), `Ignored` (well-formed but of a
type search does not use: counted, never fatal) or `Rejected` (malformed: dead-lettered with
the reason). It never raises on bad input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeAlias

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from schemas.values import canonical_uuid, normalise_timestamp

LISTING_EVENTS = frozenset({"listing/created", "listing/updated", "listing/deleted"})
EXCEPTION_EVENTS = frozenset(
    {"availabilityException/created", "availabilityException/updated", "availabilityException/deleted"}
)
BOOKING_EVENTS = frozenset({"booking/created", "booking/updated", "booking/deleted"})
# Updates and deletions of adjustments are rare admin actions, but they change stock
# (Sharetribe docs, references/events "Supported event types").
STOCK_ADJUSTMENT_EVENTS = frozenset({"stockAdjustment/created", "stockAdjustment/updated", "stockAdjustment/deleted"})
SEARCH_EVENTS = LISTING_EVENTS | EXCEPTION_EVENTS | BOOKING_EVENTS | STOCK_ADJUSTMENT_EVENTS
# Not indexed, but they link a booking to its listing: a booking's one-to-one relationship is its
# transaction, and the transaction's are `listing` and `booking` (references/events).
TRANSACTION_EVENTS = frozenset(
    {"transaction/initiated", "transaction/transitioned", "transaction/updated", "transaction/deleted"}
)
# `stockReservation/*` events are deliberately not here: Flex records a reservation's effect on
# stock as stock adjustments as it moves through its states, so `currentStock` and the adjustments
# already include it (references/stock). Counting the reservation too would take it twice.

LISTING_STATES = ("draft", "pendingApproval", "published", "closed")
BOOKING_STATES = ("proposed", "pending", "accepted", "declined", "cancelled")

# Bounds on operator-controlled JSON so one listing can never blow up a bulk request. The
# extended-data ones are defaults of `EventLimits` (settings can change them).
MAX_EXTENDED_DATA_BYTES = 64 * 1024
MAX_JSON_DEPTH = 16
MAX_TEXT_CHARS = 20_000
# Stock quantities, like stock adjustments: far beyond any real stock, far inside a `long`.
MAX_STOCK = 2**40


@dataclass(frozen=True, slots=True)
class EventLimits:
    """How large and how deep a listing's publicData / metadata may be."""

    max_extended_data_bytes: int = MAX_EXTENDED_DATA_BYTES
    max_extended_data_depth: int = MAX_JSON_DEPTH


DEFAULT_LIMITS = EventLimits()

Uuid = Annotated[StrictStr, AfterValidator(canonical_uuid)]
Timestamp = Annotated[StrictStr, AfterValidator(normalise_timestamp)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class EventAttributes(_Model):
    sequenceId: StrictInt = Field(ge=0, le=2**62)
    eventType: StrictStr = Field(min_length=1, max_length=200)
    resourceId: Uuid
    resourceType: StrictStr | None = None
    createdAt: Timestamp | None = None
    resource: dict[str, Any] | None = None
    previousValues: dict[str, Any] | None = None


class EventEnvelope(_Model):
    id: Uuid
    type: Literal["event"] = "event"
    attributes: EventAttributes


class LatLng(_Model):
    lat: StrictFloat = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: StrictFloat = Field(ge=-180, le=180, allow_inf_nan=False)


class Money(_Model):
    amount: StrictInt = Field(ge=-(2**53), le=2**53)
    currency: StrictStr = Field(min_length=1, max_length=8)


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"


class DayPlanEntry(_Model):
    dayOfWeek: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    seats: StrictInt = Field(ge=0, le=10_000)


class TimePlanEntry(DayPlanEntry):
    startTime: StrictStr = Field(pattern=_HHMM)
    endTime: StrictStr = Field(pattern=_HHMM)


def _valid_timezone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if len(name) > 64:  # the longest IANA name is 32 characters; never look a megabyte up on disk
        raise ValueError("not an IANA timezone (longer than 64 characters)")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA timezone") from None
    return name


class DayPlan(_Model):
    type: Literal["availability-plan/day"]
    entries: list[DayPlanEntry] = Field(default_factory=list, max_length=7 * 50)


class TimePlan(_Model):
    type: Literal["availability-plan/time"]
    timezone: Annotated[StrictStr, AfterValidator(_valid_timezone)]
    entries: list[TimePlanEntry] = Field(default_factory=list, max_length=7 * 50)


class ListingAttributes(_Model):
    title: StrictStr | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    description: StrictStr | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    geolocation: LatLng | None = None
    price: Money | None = None
    publicData: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    state: Literal["draft", "pendingApproval", "published", "closed"]
    deleted: StrictBool = False
    createdAt: Timestamp | None = None
    availabilityPlan: Annotated[DayPlan | TimePlan, Field(discriminator="type")] | None = None


class IntervalAttributes(_Model):
    start: Timestamp
    end: Timestamp
    seats: StrictInt = Field(ge=0, le=10_000)


class BookingAttributes(IntervalAttributes):
    # Sharetribe's availability reference spells it `canceled`, its stock reference `cancelled`:
    # both are accepted (neither holds seats: only pending and accepted bookings do).
    state: Literal["proposed", "pending", "accepted", "declined", "cancelled", "canceled"] = "pending"


class StockAdjustmentAttributes(_Model):
    quantity: StrictInt = Field(ge=-(2**40), le=2**40)


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """A valid event, reduced to what search needs. `resource` is None for deletions.

    `listing_id` is "" for a booking event that does not name its listing: intake routes it
    through `transaction_id` (or the booking's own id) to the listing a transaction names
    (indexer/pipeline/booking_links.py), and the stream entry carries the listing id beside it.
    """

    seq: int
    event_type: str
    listing_id: str
    resource_id: str
    resource: dict[str, Any] | None
    event_id: str
    transaction_id: str | None = None
    # For `stockAdjustment/updated|deleted`: the quantity before the event (previousValues). A
    # stock total read from Flex already includes an adjustment made before the read, so a later
    # edit changes the total by the difference, not by the new quantity (schemas/stock.py).
    prior_quantity: int | None = None

    @property
    def family(self) -> str:
        return self.event_type.split("/", 1)[0]

    @property
    def is_deletion(self) -> bool:
        return self.event_type.endswith("/deleted")

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "seq": self.seq,
                "type": self.event_type,
                "lid": self.listing_id,
                "rid": self.resource_id,
                "res": self.resource,
                "eid": self.event_id,
                **({"tx": self.transaction_id} if self.transaction_id else {}),
                **({"pq": self.prior_quantity} if self.prior_quantity is not None else {}),
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> ChangeEvent:
        d = orjson.loads(data)
        return cls(d["seq"], d["type"], d["lid"], d["rid"], d["res"], d["eid"], d.get("tx"), d.get("pq"))


@dataclass(frozen=True, slots=True)
class TransactionLink:
    """A transaction event naming its listing (and its booking, if it has one)."""

    seq: int
    transaction_id: str
    listing_id: str
    booking_id: str | None


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str


@dataclass(frozen=True, slots=True)
class Ignored:
    event_type: str


Classified: TypeAlias = ChangeEvent | TransactionLink | Rejected | Ignored


def _format_errors(prefix: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:3]:
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - 3
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _json_bounds_error(name: str, value: Any, limits: EventLimits) -> str | None:
    """Depth, NaN and size limits on free-form extended data."""
    err = _walk_json(name, value, 1, limits.max_extended_data_depth)
    if err:
        return err
    try:
        size = len(orjson.dumps(value))
    except (TypeError, orjson.JSONEncodeError) as exc:
        return f"{name}: not serialisable as JSON ({exc})"
    if size > limits.max_extended_data_bytes:
        return f"{name}: {size} bytes, more than the {limits.max_extended_data_bytes} allowed"
    return None


_SCALARS = frozenset({str, int, bool, type(None)})


def _walk_json(name: str, node: Any, depth: int, max_depth: int) -> str | None:
    # Recursion is bounded by max_depth. The types of a container's children are collected in
    # C (set(map(type, ...))), so the usual flat lists of strings cost no Python loop at all.
    if type(node) is float:
        return None if math.isfinite(node) else f"{name}: NaN and infinite numbers are not JSON"
    if isinstance(node, dict):
        children: Any = list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        return None
    if not children:
        return None
    if depth >= max_depth:  # the children sit deeper than allowed, whatever they are
        return f"{name}: nested deeper than {max_depth} levels"
    kinds = set(map(type, children))
    if kinds <= _SCALARS:
        return None
    for child in children:
        if type(child) in _SCALARS:
            continue
        err = _walk_json(name, child, depth + 1, max_depth)
        if err:
            return err
    return None


def _relationship_ids(container: dict[str, Any] | None, name: str) -> list[str] | None:
    """`relationships.<name>.data[*].id` of a to-many relationship, canonical UUIDs in order; None
    when the relationship is absent. Entries that are not UUIDs are skipped."""
    rels = container.get("relationships") if isinstance(container, dict) else None
    rel = rels.get(name) if isinstance(rels, dict) else None
    data = rel.get("data") if isinstance(rel, dict) else None
    if not isinstance(data, list):
        return None
    out: list[str] = []
    for ref in data[:MAX_IMAGES]:
        rid = ref.get("id") if isinstance(ref, dict) else None
        if isinstance(rid, str):
            try:
                out.append(canonical_uuid(rid))
            except ValueError:
                continue
    return out


def _relationship_id(container: dict[str, Any] | None, name: str) -> str | None:
    """`relationships.<name>.data.id`, canonicalised; None when absent or not a UUID."""
    if not isinstance(container, dict):
        return None
    rels = container.get("relationships")
    rel = rels.get(name) if isinstance(rels, dict) else None
    data = rel.get("data") if isinstance(rel, dict) else None
    rid = data.get("id") if isinstance(data, dict) else None
    if not isinstance(rid, str):
        return None
    try:
        return canonical_uuid(rid)
    except ValueError:
        return None


def _has_relationship(container: dict[str, Any] | None, name: str) -> bool:
    """Whether `relationships.<name>.data` is there at all (valid or not)."""
    rels = container.get("relationships") if isinstance(container, dict) else None
    rel = rels.get(name) if isinstance(rels, dict) else None
    return isinstance(rel, dict) and rel.get("data") is not None


def _current_stock(resource: dict[str, Any]) -> tuple[int | None, str | None]:
    """`currentStock` as `{"quantity": n}` or JSON:API `{"data": {"attributes": {"quantity": n}}}`."""
    rels = resource.get("relationships")
    rel = rels.get("currentStock") if isinstance(rels, dict) else None
    if rel is None:
        return None, None
    if isinstance(rel, dict) and "data" in rel:
        data = rel["data"]
        if data is None:
            return None, None
        rel = data.get("attributes") if isinstance(data, dict) else None
    qty = rel.get("quantity") if isinstance(rel, dict) else None
    if qty is None:
        return None, None
    if not isinstance(qty, int) or isinstance(qty, bool):
        return None, "resource.relationships.currentStock.quantity: must be an integer"
    if not -MAX_STOCK <= qty <= MAX_STOCK:
        return None, f"resource.relationships.currentStock.quantity: must be within ±{MAX_STOCK}"
    return qty, None


# Flex lets a listing have many images; a bound keeps a hostile event from bloating the document.
MAX_IMAGES = 100


def _listing_resource(resource: dict[str, Any], limits: EventLimits) -> dict[str, Any] | Rejected:
    try:
        attrs = ListingAttributes.model_validate(resource.get("attributes"))
    except ValidationError as exc:
        return Rejected(_format_errors("resource.attributes", exc))
    for name in ("publicData", "metadata"):
        err = _json_bounds_error(f"resource.attributes.{name}", getattr(attrs, name), limits)
        if err:
            return Rejected(err)
    stock, err = _current_stock(resource)
    if err:
        return Rejected(err)
    author = _relationship_id(resource, "author")
    images = _relationship_ids(resource, "images")
    # privateData is deliberately not copied: the service never stores it.
    listing: dict[str, Any] = {
        "title": attrs.title,
        "description": attrs.description,
        "geolocation": attrs.geolocation.model_dump() if attrs.geolocation else None,
        "price": attrs.price.model_dump() if attrs.price else None,
        "publicData": attrs.publicData or {},
        "metadata": attrs.metadata or {},
        "state": attrs.state,
        "deleted": attrs.deleted,
        "createdAt": attrs.createdAt,
        "availabilityPlan": attrs.availabilityPlan.model_dump() if attrs.availabilityPlan else None,
        "authorId": author,
        "currentStock": stock,
    }
    # A listing event carries its images' ids in order (references/events "Resource data and
    # previous values"); kept only when present, so listings without them store what they did.
    if images is not None:
        listing["imageIds"] = images
    return listing


_COMPONENT_MODELS: dict[str, type[_Model]] = {
    "availabilityException": IntervalAttributes,
    "booking": BookingAttributes,
    "stockAdjustment": StockAdjustmentAttributes,
}


def _component_resource(family: str, resource: dict[str, Any]) -> dict[str, Any] | Rejected:
    try:
        attrs = _COMPONENT_MODELS[family].model_validate(resource.get("attributes"))
    except ValidationError as exc:
        return Rejected(_format_errors("resource.attributes", exc))
    out = attrs.model_dump()
    if "start" in out and out["end"] <= out["start"]:
        return Rejected("resource.attributes.end: must be after start")
    return out


def classify(raw: object, limits: EventLimits = DEFAULT_LIMITS) -> Classified:
    if not isinstance(raw, dict):
        return Rejected(f"event must be a JSON object, got {type(raw).__name__}")
    try:
        env = EventEnvelope.model_validate(raw)
    except ValidationError as exc:
        return Rejected(_format_errors("", exc))
    a = env.attributes
    if a.eventType in TRANSACTION_EVENTS:
        return _transaction_link(a)
    if a.eventType not in SEARCH_EVENTS:
        return Ignored(a.eventType)
    family = a.eventType.split("/", 1)[0]
    expected_type = family
    if a.resourceType is not None and a.resourceType != expected_type:
        return Rejected(f"attributes.resourceType: {a.resourceType!r} does not match {a.eventType!r}")
    deletion = a.eventType.endswith("/deleted")
    resource = a.resource
    if deletion:
        normalised: dict[str, Any] | None = None
    else:
        if resource is None:
            return Rejected(f"attributes.resource: required for {a.eventType}")
        rid = resource.get("id")
        if rid is not None and (not isinstance(rid, str) or _safe_uuid(rid) != a.resourceId):
            return Rejected("attributes.resource.id: does not match attributes.resourceId")
        built = _listing_resource(resource, limits) if family == "listing" else _component_resource(family, resource)
        if isinstance(built, Rejected):
            return built
        normalised = built
    transaction_id = None
    if family == "listing":
        listing_id = a.resourceId
    else:
        # Deletions carry no resource: the listing is named by the previous values, which have the
        # resource's shape (references/events "Resource data and previous values").
        found = _relationship_id(resource, "listing") or _relationship_id(a.previousValues, "listing")
        named = _has_relationship(resource, "listing") or _has_relationship(a.previousValues, "listing")
        if found is None and family == "booking" and not named:
            # A booking names its transaction, not its listing; intake routes it through the
            # transaction (or, for a deletion whose previous values are nulls, its own id).
            transaction_id = _relationship_id(resource, "transaction") or _relationship_id(
                a.previousValues, "transaction"
            )
            found = ""
        if found is None:
            return Rejected(f"{a.eventType}: relationships.listing.data.id is missing or not a UUID")
        listing_id = found
    prior = _prior_quantity(a.previousValues) if family == "stockAdjustment" and "/created" not in a.eventType else None
    return ChangeEvent(a.sequenceId, a.eventType, listing_id, a.resourceId, normalised, env.id, transaction_id, prior)


def _prior_quantity(previous: dict[str, Any] | None) -> int | None:
    """`previousValues.attributes.quantity` when it is a sane integer (it may be null)."""
    attrs = previous.get("attributes") if isinstance(previous, dict) else None
    qty = attrs.get("quantity") if isinstance(attrs, dict) else None
    if isinstance(qty, int) and not isinstance(qty, bool) and -MAX_STOCK <= qty <= MAX_STOCK:
        return qty
    return None


def _transaction_link(a: EventAttributes) -> TransactionLink | Ignored:
    """What a transaction event tells about its booking's listing. A transaction without a listing
    (none in Flex today) or a deleted one whose previous values are nulls links nothing."""
    listing_id = _relationship_id(a.resource, "listing") or _relationship_id(a.previousValues, "listing")
    if listing_id is None:
        return Ignored(a.eventType)
    booking_id = _relationship_id(a.resource, "booking") or _relationship_id(a.previousValues, "booking")
    return TransactionLink(a.sequenceId, a.resourceId, listing_id, booking_id)


def _safe_uuid(value: str) -> str | None:
    try:
        return canonical_uuid(value)
    except ValueError:
        return None


def strip_private(raw: object) -> object:
    """A copy of a raw event fit for the dead-letter store: privateData never leaves intake."""
    if not isinstance(raw, dict):
        return raw
    attrs = raw.get("attributes")
    if not isinstance(attrs, dict):
        return raw
    out_attrs = dict(attrs)
    for key in ("resource", "previousValues"):
        part = out_attrs.get(key)
        if isinstance(part, dict) and isinstance(part.get("attributes"), dict):
            inner = dict(part["attributes"])
            if "privateData" in inner:
                inner["privateData"] = "[not stored]"
                out_attrs[key] = {**part, "attributes": inner}
    return {**raw, "attributes": out_attrs}
