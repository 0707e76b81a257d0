"""Malformed and hostile events, shared by the pure fuzz test (tens of thousands of cases through
`classify`) and the end-to-end one (a batch through HTTP intake and the worker).

Each corruption breaks an otherwise valid event in one known way and gives a pattern the
rejection reason must match, so "rejected" is checked as "rejected for the right reason".
"""

from __future__ import annotations

import copy
import json
import math
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.events import component_event, listing_event

FAMILIES = ("listing", "availabilityException", "booking", "stockAdjustment")
COMPONENTS = FAMILIES[1:]
INTERVALS = ("availabilityException", "booking")
START, END = "2027-01-10T00:00:00.000Z", "2027-01-12T00:00:00.000Z"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NAN, INF = math.nan, math.inf
R = ("attributes", "resource", "attributes")  # a resource's own attributes
RELS = ("attributes", "resource", "relationships")

Maker = Callable[[random.Random], Any]


class _Delete:
    """Remove the key instead of setting it."""


DELETE = _Delete()


@dataclass(frozen=True)
class Corruption:
    name: str
    families: tuple[str, ...]
    path: tuple[str, ...]  # () replaces the whole event
    make: Maker
    reason: str  # a regular expression the rejection reason must match

    def matches(self, reason: str) -> bool:
        return re.search(self.reason, reason) is not None


def one_of(*values: Any) -> Maker:
    return lambda rng: copy.deepcopy(rng.choice(values))


def huge(limit: int) -> Maker:
    """A string just over a limit, or far over it."""
    return lambda rng: "x" * rng.choice((limit + 1, limit * 3, 1_000_000))


def nested(rng: random.Random, depth: int) -> Any:
    node: Any = rng.choice((1, "leaf", None, 2.5))
    for _ in range(depth):
        node = {"k": node} if rng.random() < 0.5 else [node]
    return node


def too_deep(rng: random.Random) -> dict[str, Any]:
    return {"deep": nested(rng, rng.randint(16, 300))}


def too_big(rng: random.Random) -> dict[str, Any]:
    return {"blob": "x" * rng.choice((65_537, 200_000, 2_000_000))}


def random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


BAD_TIMESTAMPS = (
    "yesterday",
    "2027-01-10T00:00:00",  # no offset: ambiguous
    "2027-01-10",
    "2027-13-40T00:00:00Z",
    "0001-01-01T00:00:00+14:00",  # no UTC form
    "9999-12-31T23:59:59-14:00",
    17,
    None,
    [],
    "x" * 10_000,
)
NOT_OBJECTS = ([1], "x", 1, True, 2.5)


def _extended(scope: str) -> list[Corruption]:
    return [
        Corruption(
            f"{scope} not an object",
            ("listing",),
            (*R, scope),
            one_of(*NOT_OBJECTS),
            rf"^resource\.attributes\.{scope}",
        ),
        Corruption(
            f"{scope} too large", ("listing",), (*R, scope), too_big, rf"^resource\.attributes\.{scope}: \d+ bytes"
        ),
        Corruption(
            f"{scope} too deep", ("listing",), (*R, scope), too_deep, rf"^resource\.attributes\.{scope}: nested deeper"
        ),
        Corruption(
            f"{scope} non-finite",
            ("listing",),
            (*R, scope),
            one_of({"score": NAN}, {"a": [1, INF]}, {"b": {"c": -INF}}),
            rf"^resource\.attributes\.{scope}: NaN",
        ),
    ]


CORRUPTIONS: tuple[Corruption, ...] = (
    # The envelope.
    Corruption(
        "not an object",
        FAMILIES,
        (),
        one_of(1, "event", [], None, 1.5, True, [{"id": 1}]),
        r"^event must be a JSON object",
    ),
    Corruption("id missing", FAMILIES, ("id",), lambda _: DELETE, r"^id: "),
    Corruption("id wrong", FAMILIES, ("id",), one_of("not-a-uuid", 42, [], {}, None, "", "x" * 100_000), r"^id: "),
    Corruption("type not event", FAMILIES, ("type",), one_of("listing", 1, None, ""), r"^type: "),
    Corruption("attributes wrong", FAMILIES, ("attributes",), one_of("x", [], 1, None), r"^attributes: "),
    Corruption(
        "sequenceId missing", FAMILIES, ("attributes", "sequenceId"), lambda _: DELETE, r"^attributes\.sequenceId: "
    ),
    Corruption(
        "sequenceId wrong",
        FAMILIES,
        ("attributes", "sequenceId"),
        one_of("12", 12.5, True, -1, 2**62 + 1, 10**30, None, [], NAN, INF, -INF, 1e300),
        r"^attributes\.sequenceId: ",
    ),
    Corruption(
        "eventType wrong",
        FAMILIES,
        ("attributes", "eventType"),
        one_of(1, None, [], "", "x" * 201, "x" * 1_000_000),
        r"^attributes\.eventType: ",
    ),
    Corruption(
        "resourceId wrong",
        FAMILIES,
        ("attributes", "resourceId"),
        one_of("nope", 1, None, "x" * 65),
        r"^attributes\.resourceId: ",
    ),
    Corruption(
        "createdAt wrong",
        FAMILIES,
        ("attributes", "createdAt"),
        one_of(*BAD_TIMESTAMPS[:-3], 17, []),
        r"^attributes\.createdAt: ",
    ),
    Corruption(
        "resourceType mismatch",
        FAMILIES,
        ("attributes", "resourceType"),
        one_of("user", "Listing", "", 1),
        r"^attributes\.resourceType: ",
    ),
    Corruption(
        "resource not an object", FAMILIES, ("attributes", "resource"), one_of(*NOT_OBJECTS), r"^attributes\.resource: "
    ),
    Corruption(
        "resource missing", FAMILIES, ("attributes", "resource"), one_of(None), r"^attributes\.resource: required"
    ),
    Corruption(
        "resource id mismatch", FAMILIES, ("attributes", "resource", "id"), random_uuid, r"^attributes\.resource\.id: "
    ),
    Corruption("resource attributes wrong", FAMILIES, R, one_of(None, [], "x", 5), r"^resource\.attributes: "),
    # Listings.
    Corruption("title wrong", ("listing",), (*R, "title"), one_of(42, [], {}, True), r"^resource\.attributes\.title: "),
    Corruption("title huge", ("listing",), (*R, "title"), huge(20_000), r"^resource\.attributes\.title: "),
    Corruption(
        "description huge", ("listing",), (*R, "description"), huge(20_000), r"^resource\.attributes\.description: "
    ),
    Corruption(
        "price wrong",
        ("listing",),
        (*R, "price"),
        one_of(
            "100",
            100,
            [],
            {"amount": "100", "currency": "USD"},
            {"amount": 1.5, "currency": "USD"},
            {"amount": 2**60, "currency": "USD"},
            {"amount": NAN, "currency": "USD"},
            {"amount": 1, "currency": ""},
            {"amount": 1, "currency": "x" * 9},
            {"amount": 1},
        ),
        r"^resource\.attributes\.price",
    ),
    Corruption(
        "geolocation wrong",
        ("listing",),
        (*R, "geolocation"),
        one_of(
            {"lat": 91.0, "lng": 0.5},
            {"lat": 0.5, "lng": 180.5},
            {"lat": NAN, "lng": 0.5},
            {"lat": 0.5, "lng": -INF},
            {"lat": "1", "lng": 0.5},
            {"lat": 1.5},
            [1.5, 2.5],
            "42,1",
        ),
        r"^resource\.attributes\.geolocation",
    ),
    *_extended("publicData"),
    *_extended("metadata"),
    Corruption(
        "state unknown",
        ("listing",),
        (*R, "state"),
        one_of("archived", "Published", "", 1, None, []),
        r"^resource\.attributes\.state: ",
    ),
    Corruption("state missing", ("listing",), (*R, "state"), lambda _: DELETE, r"^resource\.attributes\.state: "),
    Corruption(
        "deleted wrong",
        ("listing",),
        (*R, "deleted"),
        one_of("yes", 1, 0, None, []),
        r"^resource\.attributes\.deleted: ",
    ),
    Corruption(
        "listing createdAt wrong",
        ("listing",),
        (*R, "createdAt"),
        one_of(*BAD_TIMESTAMPS[:-3], 17),
        r"^resource\.attributes\.createdAt: ",
    ),
    Corruption(
        "plan wrong",
        ("listing",),
        (*R, "availabilityPlan"),
        one_of(
            {"type": "availability-plan/week", "entries": []},
            {"type": "availability-plan/day", "entries": [{"dayOfWeek": "mon", "seats": -1}]},
            {"type": "availability-plan/day", "entries": [{"dayOfWeek": "mon", "seats": 10_001}]},
            {"type": "availability-plan/day", "entries": [{"dayOfWeek": "monday", "seats": 1}]},
            {"type": "availability-plan/day", "entries": [{"dayOfWeek": "mon", "seats": 1}] * 351},
            {"type": "availability-plan/time", "timezone": "Mars/Olympus", "entries": []},
            {"type": "availability-plan/time", "timezone": "../../etc/passwd", "entries": []},
            {"type": "availability-plan/time", "timezone": "x" * 10_000, "entries": []},
            {
                "type": "availability-plan/time",
                "timezone": "UTC",
                "entries": [{"dayOfWeek": "mon", "seats": 1, "startTime": "25:00", "endTime": "26:00"}],
            },
            "day",
            [],
            {"entries": []},
        ),
        r"^resource\.attributes\.availabilityPlan",
    ),
    Corruption(
        "currentStock wrong",
        ("listing",),
        (*RELS, "currentStock"),
        one_of(
            {"quantity": "3"},
            {"quantity": 1.5},
            {"quantity": True},
            {"quantity": 2**41},
            {"quantity": -(10**30)},
            {"data": {"attributes": {"quantity": "x"}}},
        ),
        r"^resource\.relationships\.currentStock\.quantity: ",
    ),
    # Availability exceptions and bookings.
    Corruption(
        "seats wrong",
        INTERVALS,
        (*R, "seats"),
        one_of(-1, -(10**9), 10_001, "1", 1.5, None, NAN, True),
        r"^resource\.attributes\.seats: ",
    ),
    Corruption(
        "end before start",
        INTERVALS,
        (*R, "end"),
        one_of(START, "2027-01-09T23:59:59.999Z", "2000-01-01T00:00:00Z", "2027-01-10T01:00:00+02:00"),
        r"^resource\.attributes\.end: must be after start",
    ),
    Corruption("start wrong", INTERVALS, (*R, "start"), one_of(*BAD_TIMESTAMPS), r"^resource\.attributes\.start: "),
    Corruption("end missing", INTERVALS, (*R, "end"), lambda _: DELETE, r"^resource\.attributes\.end: "),
    Corruption(
        "state unknown",
        ("booking",),
        (*R, "state"),
        one_of("confirmed", 1, None, ""),
        r"^resource\.attributes\.state: ",
    ),
    Corruption(
        "listing relationship missing",
        # A booking names its transaction, not its listing: it is routed, not rejected.
        tuple(f for f in COMPONENTS if f != "booking"),
        RELS,
        lambda _: DELETE,
        r"relationships\.listing\.data\.id is missing or not a UUID",
    ),
    Corruption(
        "listing id wrong",
        COMPONENTS,
        (*RELS, "listing", "data", "id"),
        one_of("x", 5, None, "x" * 10_000),
        r"relationships\.listing\.data\.id is missing or not a UUID",
    ),
    Corruption(
        "quantity wrong",
        ("stockAdjustment",),
        (*R, "quantity"),
        one_of("1", 1.5, 2**41, -(2**41), None, True),
        r"^resource\.attributes\.quantity: ",
    ),
)


def good_event(seq: int, family: str, listing_id: str) -> dict[str, Any]:
    if family == "listing":
        ev = listing_event(
            seq, listing_id, event_type="listing/created", public_data={"listingType": "stay", "tags": ["a"]}
        )
        ev["attributes"]["resource"]["attributes"]["availabilityPlan"] = {
            "type": "availability-plan/day",
            "entries": [{"dayOfWeek": d, "seats": 2} for d in DAYS],
        }
        ev["attributes"]["resource"]["relationships"]["currentStock"] = {"quantity": 3}
        return ev
    attributes: dict[str, Any] = {
        "availabilityException": {"start": START, "end": END, "seats": 0},
        "booking": {"start": START, "end": END, "seats": 1, "state": "accepted"},
        "stockAdjustment": {"quantity": 2},
    }[family]
    return component_event(seq, family, listing_id, dict(attributes))


def applicable(family: str) -> list[Corruption]:
    return [c for c in CORRUPTIONS if family in c.families]


def corrupt(
    event: dict[str, Any], corruptions: list[Corruption], rng: random.Random
) -> tuple[object, list[Corruption]]:
    """Apply corruptions, deepest path first (so a shallower one may replace what a deeper one
    changed); returns the event and the corruptions that could be applied."""
    out: object = event
    applied = []
    for c in sorted(corruptions, key=lambda c: -len(c.path)):
        value = c.make(rng)
        if not c.path:
            out = value
            applied.append(c)
            continue
        node: Any = out
        try:
            for key in c.path[:-1]:
                node = node[key]
            if value is DELETE:
                del node[c.path[-1]]
            else:
                node[c.path[-1]] = value
        except (KeyError, TypeError, IndexError):
            continue  # an earlier corruption removed or replaced the container
        applied.append(c)
    return out, applied


def wire_safe(event: object) -> bool:
    """Whether JSON can carry the event unchanged (NaN, infinities and 1e300-style ints cannot
    cross HTTP as themselves; the HTTP tests send those as whole bodies instead)."""
    try:
        json.dumps(event, allow_nan=False)
    except (ValueError, RecursionError):
        return False
    return not _has_big_int(event)


def _has_big_int(value: object) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, bool):
            continue
        if isinstance(node, int) and not -(2**63) <= node < 2**64:
            return True
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False
