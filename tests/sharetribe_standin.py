"""A local stand-in for the Sharetribe Integration API, for the sync tests (the only stand-in
the test suite uses: the engine and Redis are real).

It follows the documented wire format: a client-credentials token from `POST /v1/auth/token`
(form encoded), bearer auth, JSON:API bodies `{"data", "included", "meta"}`, 100 items per page
at most, `events/query` by `startAfterSequenceId` or `createdAtStart` in ascending order,
listings and transactions newest first with `page`/`perPage` and a `paginationLimit` past which
`createdAtEnd` must narrow the query. A `Marketplace` holds the data; every change through its
methods records the event Flex would emit, with the resource after the change.

Test hooks: `faults` (status codes to answer before serving again, 429 with Retry-After),
`forget_events_through(seq)` (retention), and a log of the requests served.
"""

from __future__ import annotations

import copy
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

CLIENT_ID = "standin-client"
CLIENT_SECRET = "standin-secret"
MAX_PER_PAGE = 100


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _ref(kind: str, rid: str | None) -> dict[str, Any]:
    return {"data": None if rid is None else {"id": rid, "type": kind}}


@dataclass
class Marketplace:
    """A marketplace's resources and its event log."""

    seq: int = 5000
    events: list[dict[str, Any]] = field(default_factory=list)
    listings: dict[str, dict[str, Any]] = field(default_factory=dict)
    exceptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    bookings: dict[str, dict[str, Any]] = field(default_factory=dict)
    reservations: dict[str, dict[str, Any]] = field(default_factory=dict)
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)
    forgotten_through: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    marketplace_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # Distinct, increasing createdAt values, so paging newest-first is deterministic.
    _clock: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))

    def _now(self) -> str:
        self._clock = max(self._clock + timedelta(milliseconds=1), datetime.now(UTC) - timedelta(hours=1))
        return _ts(self._clock)

    # ---- changes ---------------------------------------------------------------------------

    def _emit(self, event_type: str, rid: str, resource: dict[str, Any] | None, listing_id: str | None) -> None:
        self.seq += 1
        previous = {"relationships": {"listing": _ref("listing", listing_id)}} if listing_id else {}
        self.events.append(
            {
                "id": str(uuid.uuid4()),
                "type": "event",
                "attributes": {
                    "sequenceId": self.seq,
                    "eventType": event_type,
                    "createdAt": _ts(datetime.now(UTC)),
                    "resourceId": rid,
                    "resourceType": event_type.split("/")[0],
                    "resource": copy.deepcopy(resource),
                    "previousValues": previous,
                    "marketplaceId": self.marketplace_id,
                    "source": "source/marketplace-api",
                },
            }
        )

    def create_listing(self, **attrs: Any) -> str:
        with self.lock:
            lid = str(uuid.uuid4())
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
                    "privateData": {"secret": "never-indexed"},
                    "state": attrs.get("state", "published"),
                    "deleted": False,
                    "createdAt": self._now(),
                    "availabilityPlan": attrs.get("availabilityPlan"),
                },
                "relationships": {"author": _ref("user", str(uuid.uuid5(uuid.NAMESPACE_URL, lid)))},
            }
            self._emit("listing/created", lid, self.listings[lid], None)
            return lid

    def update_listing(self, lid: str, **attrs: Any) -> None:
        with self.lock:
            self.listings[lid]["attributes"].update(attrs)
            self._emit("listing/updated", lid, self.listings[lid], None)

    def delete_listing(self, lid: str) -> None:
        with self.lock:
            del self.listings[lid]
            self.stock.pop(lid, None)
            self._emit("listing/deleted", lid, None, None)

    def add_exception(self, lid: str, start: str, end: str, seats: int) -> str:
        with self.lock:
            eid = str(uuid.uuid4())
            self.exceptions[eid] = {
                "id": eid,
                "type": "availabilityException",
                "attributes": {"start": start, "end": end, "seats": seats},
                "relationships": {"listing": _ref("listing", lid)},
            }
            self._emit("availabilityException/created", eid, self.exceptions[eid], lid)
            return eid

    def delete_exception(self, eid: str) -> None:
        with self.lock:
            lid = self.exceptions.pop(eid)["relationships"]["listing"]["data"]["id"]
            self._emit("availabilityException/deleted", eid, None, lid)

    def _transaction(self, lid: str, rel: str, kind: str, rid: str) -> None:
        tid = str(uuid.uuid4())
        self.transactions[tid] = {
            "id": tid,
            "type": "transaction",
            "attributes": {"createdAt": self._now(), "lastTransition": "transition/request"},
            "relationships": {"listing": _ref("listing", lid), rel: _ref(kind, rid)},
        }

    def book(self, lid: str, start: str, end: str, seats: int = 1, state: str = "accepted") -> str:
        with self.lock:
            bid = str(uuid.uuid4())
            self.bookings[bid] = {
                "id": bid,
                "type": "booking",
                "attributes": {"start": start, "end": end, "seats": seats, "state": state},
                "relationships": {"listing": _ref("listing", lid)},
            }
            self._transaction(lid, "booking", "booking", bid)
            self._emit("booking/created", bid, self.bookings[bid], lid)
            return bid

    def set_booking_state(self, bid: str, state: str) -> None:
        with self.lock:
            booking = self.bookings[bid]
            booking["attributes"]["state"] = state
            self._emit("booking/updated", bid, booking, booking["relationships"]["listing"]["data"]["id"])

    def adjust_stock(self, lid: str, quantity: int) -> None:
        with self.lock:
            self.stock[lid] = self.stock.get(lid, 0) + quantity
            aid = str(uuid.uuid4())
            resource = {
                "id": aid,
                "type": "stockAdjustment",
                "attributes": {"quantity": quantity, "at": self._now()},
                "relationships": {"listing": _ref("listing", lid)},
            }
            self._emit("stockAdjustment/created", aid, resource, lid)

    def reserve(self, lid: str, quantity: int, state: str = "pending") -> str:
        with self.lock:
            rid = str(uuid.uuid4())
            self.reservations[rid] = {
                "id": rid,
                "type": "stockReservation",
                "attributes": {"quantity": quantity, "state": state},
                "relationships": {"listing": _ref("listing", lid)},
            }
            self._transaction(lid, "stockReservation", "stockReservation", rid)
            self._emit("stockReservation/created", rid, self.reservations[rid], lid)
            return rid

    def set_reservation_state(self, rid: str, state: str) -> None:
        with self.lock:
            res = self.reservations[rid]
            res["attributes"]["state"] = state
            self._emit("stockReservation/updated", rid, res, res["relationships"]["listing"]["data"]["id"])

    def forget_events_through(self, seq: int) -> None:
        """Retention: events up to `seq` are gone from `events/query`."""
        with self.lock:
            self.forgotten_through = max(self.forgotten_through, seq)

    # ---- random activity, for the tests ----------------------------------------------------

    def random_changes(self, rng: random.Random, n: int, *, today: datetime | None = None) -> None:
        base = (today or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)

        def day(offset: int) -> str:
            return _ts(base + timedelta(days=offset))

        plan = {
            "type": "availability-plan/day",
            "entries": [{"dayOfWeek": d, "seats": 2} for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")],
        }
        for _ in range(n):
            with self.lock:
                live = sorted(self.listings)
                roll = rng.random()
                if not live or roll < 0.15:
                    self.create_listing(
                        title=f"listing {self.seq}",
                        price={"amount": rng.randrange(1000, 50_000), "currency": "USD"},
                        state=rng.choice(["published", "published", "published", "draft", "closed"]),
                        availabilityPlan=plan if rng.random() < 0.7 else None,
                        publicData={"listingType": rng.choice(["daily", "nightly", "product"])},
                    )
                    continue
                lid = rng.choice(live)
                if roll < 0.35:
                    self.update_listing(
                        lid,
                        title=f"t{self.seq}",
                        price={"amount": rng.randrange(1000, 50_000), "currency": "USD"},
                        state=rng.choice(["published", "published", "closed", "pendingApproval"]),
                    )
                elif roll < 0.40:
                    self.delete_listing(lid)
                elif roll < 0.55:
                    start = rng.randrange(0, 60)
                    self.add_exception(lid, day(start), day(start + rng.randrange(1, 5)), rng.randrange(0, 3))
                elif roll < 0.62 and self.exceptions:
                    self.delete_exception(rng.choice(sorted(self.exceptions)))
                elif roll < 0.75:
                    start = rng.randrange(0, 60)
                    self.book(lid, day(start), day(start + rng.randrange(1, 4)), 1, rng.choice(["pending", "accepted"]))
                elif roll < 0.80 and self.bookings:
                    self.set_booking_state(rng.choice(sorted(self.bookings)), rng.choice(["declined", "cancelled"]))
                elif roll < 0.90:
                    self.adjust_stock(lid, rng.randrange(-3, 10))
                elif roll < 0.95:
                    self.reserve(lid, rng.randrange(1, 3), rng.choice(["pending", "accepted"]))
                elif self.reservations:
                    self.set_reservation_state(rng.choice(sorted(self.reservations)), "cancelled")


@dataclass
class StandIn:
    market: Marketplace
    token_ttl_s: float = 3600.0
    pagination_limit: int = 1000
    faults: list[int] = field(default_factory=list)
    retry_after: str = "0.05"
    log: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    # Called after a query is answered: lets a test change the marketplace mid-scan.
    after_request: Callable[[str, dict[str, str]], None] | None = None
    tokens: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def requests_to(self, path: str) -> list[dict[str, str]]:
        with self._lock:
            return [params for p, params in self.log if p == path]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/auth/token")
        async def token(request: Request) -> JSONResponse:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            if form.get("grant_type") != "client_credentials" or form.get("scope") != "integ":
                return _error(400, "invalid_request", "grant_type must be client_credentials, scope integ")
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return _error(401, "invalid_client", "unknown client")
            value = uuid.uuid4().hex
            with self._lock:
                self.tokens[value] = time.monotonic() + self.token_ttl_s
            return JSONResponse(
                {"access_token": value, "token_type": "bearer", "expires_in": int(self.token_ttl_s), "scope": "integ"}
            )

        @app.get("/v1/integration_api/{path:path}")
        def query(path: str, request: Request) -> JSONResponse:
            params = dict(request.query_params)
            with self._lock:
                self.log.append((path, params))
                auth = request.headers.get("authorization", "")
                expires = self.tokens.get(auth.removeprefix("Bearer "))
                if expires is None or expires < time.monotonic():
                    return _error(401, "unauthorized", "invalid or expired token")
                if self.faults:
                    status = self.faults.pop(0)
                    resp = _error(status, "too-many-requests" if status == 429 else "server-error", "injected")
                    if status == 429:
                        resp.headers["Retry-After"] = self.retry_after
                    return resp
            with self.market.lock:
                resp = self._answer(path, params)
            if self.after_request is not None:
                self.after_request(path, params)
            return resp

        return app

    def _answer(self, path: str, params: dict[str, str]) -> JSONResponse:
        handler = {
            "events/query": self._events,
            "listings/query": self._listings,
            "listings/show": self._show,
            "availability_exceptions/query": self._exceptions,
            "transactions/query": self._transactions,
        }.get(path)
        if handler is None:
            return _error(404, "not-found", f"no endpoint {path}")
        return handler(params)

    # ---- endpoints --------------------------------------------------------------------------

    def _events(self, params: dict[str, str]) -> JSONResponse:
        m = self.market
        found = [e for e in m.events if e["attributes"]["sequenceId"] > m.forgotten_through]
        if "startAfterSequenceId" in params:
            after = int(params["startAfterSequenceId"])
            found = [e for e in found if e["attributes"]["sequenceId"] > after]
        elif "createdAtStart" in params:
            since = _parse(params["createdAtStart"])
            found = [e for e in found if _parse(e["attributes"]["createdAt"]) >= since]
        return JSONResponse({"data": copy.deepcopy(found[:MAX_PER_PAGE]), "meta": {}})

    def _page(
        self, items: list[dict[str, Any]], params: dict[str, str], included: list[dict[str, Any]]
    ) -> JSONResponse:
        try:
            page, per_page = int(params.get("page", "1")), int(params.get("perPage", "100"))
        except ValueError:
            return _error(400, "invalid-params", "page and perPage must be integers")
        if not 1 <= per_page <= MAX_PER_PAGE:
            return _error(400, "invalid-params", "perPage must be 1..100")
        if page > self.pagination_limit:
            return _error(400, "invalid-params", f"page beyond paginationLimit {self.pagination_limit}")
        items = sorted(items, key=lambda i: i["attributes"]["createdAt"], reverse=True)
        if "createdAtEnd" in params:
            end = _parse(params["createdAtEnd"])
            items = [i for i in items if _parse(i["attributes"]["createdAt"]) < end]
        total = len(items)
        chunk = items[(page - 1) * per_page : page * per_page]
        refs = [r["data"] for i in chunk for r in (i.get("relationships") or {}).values()]
        wanted = {(ref["type"], ref["id"]) for ref in refs if ref}
        return JSONResponse(
            {
                "data": copy.deepcopy(chunk),
                "included": [copy.deepcopy(x) for x in included if (x["type"], x["id"]) in wanted],
                "meta": {
                    "totalItems": total,
                    "totalPages": (total + per_page - 1) // per_page,
                    "page": page,
                    "perPage": per_page,
                    "paginationLimit": self.pagination_limit,
                },
            }
        )

    def _with_stock(self, lid: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        resource = copy.deepcopy(self.market.listings[lid])
        if lid in self.market.stock:
            sid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"stock:{lid}"))
            resource["relationships"]["currentStock"] = _ref("stock", sid)
            return resource, [{"id": sid, "type": "stock", "attributes": {"quantity": self.market.stock[lid]}}]
        resource["relationships"]["currentStock"] = _ref("stock", None)
        return resource, []

    def _listings(self, params: dict[str, str]) -> JSONResponse:
        states = set(params.get("states", "published").split(","))
        items, included = [], []
        for lid, listing in self.market.listings.items():
            if listing["attributes"]["state"] not in states:
                continue
            resource, stock = self._with_stock(lid) if "currentStock" in params.get("include", "") else (listing, [])
            items.append(resource)
            included += stock
        return self._page(items, params, included)

    def _show(self, params: dict[str, str]) -> JSONResponse:
        lid = params.get("id", "")
        if lid not in self.market.listings:
            return _error(404, "not-found", "listing not found")
        resource, included = self._with_stock(lid)
        return JSONResponse({"data": resource, "included": included})

    def _exceptions(self, params: dict[str, str]) -> JSONResponse:
        try:
            start, end = _parse(params["start"]), _parse(params["end"])
        except (KeyError, ValueError):
            return _error(400, "invalid-params", "listingId, start and end are required")
        if end - start > timedelta(days=366):
            return _error(400, "invalid-params", "the range may span at most 366 days")
        items = []
        for exc in self.market.exceptions.values():
            attrs = exc["attributes"]
            if exc["relationships"]["listing"]["data"]["id"] != params.get("listingId"):
                continue
            if _parse(attrs["start"]) < end and _parse(attrs["end"]) > start:
                items.append(
                    {"id": exc["id"], "type": exc["type"], "attributes": {**attrs, "createdAt": attrs["start"]}}
                )
        return self._page(items, params, [])

    def _transactions(self, params: dict[str, str]) -> JSONResponse:
        include = set(params.get("include", "").split(","))
        included = []
        if "booking" in include:
            included += [{k: v for k, v in b.items() if k != "relationships"} for b in self.market.bookings.values()]
        if "stockReservation" in include:
            included += [
                {k: v for k, v in r.items() if k != "relationships"} for r in self.market.reservations.values()
            ]
        return self._page(list(self.market.transactions.values()), params, included)


def _error(status: int, code: str, title: str) -> JSONResponse:
    return JSONResponse({"errors": [{"id": str(uuid.uuid4()), "status": status, "code": code, "title": title}]}, status)
