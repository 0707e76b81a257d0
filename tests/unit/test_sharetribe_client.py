"""The Integration API client's pure parts, against `httpx.MockTransport` answers: the JSON
`Accept` header, the `eventTypes` filter, the client-side token bucket, `transactions/show`
parsing and caching, and scans that read every listing once whatever order Flex answers in."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from indexer.pipeline.booking_links import Link
from indexer.sharetribe.api import (
    EVENT_TYPES,
    MISSING_TRANSACTION_TTL_S,
    IntegrationApi,
    TokenBucket,
    TransactionCache,
    parse_transaction_links,
    shared_bucket,
)
from infra.settings import Settings

Handler = Callable[[httpx.Request], httpx.Response]
TOKEN = {"access_token": "t0k3n", "token_type": "bearer", "expires_in": 86_400, "scope": "integ"}
TX = "6d2a3a3c-7d0e-4b4e-9a55-1f3a4c5b6d7e"
LISTING = "5bbb2f6f-568f-470a-9949-a655e3f6ac46"
BOOKING = "5fce86c7-e435-4047-ab3b-dc4fee02d51d"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def client(handler: Handler, **kwargs: Any) -> tuple[IntegrationApi, list[httpx.Request]]:
    """A client whose every request (token included) is answered by `handler`, and the log."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/auth/token":
            return httpx.Response(200, json=TOKEN)
        return handler(request)

    kwargs.setdefault("sleep", lambda _s: None)
    api = IntegrationApi("https://flex.test", "id", "secret", transport=httpx.MockTransport(answer), **kwargs)
    return api, seen


def params(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.url.query.decode(), keep_blank_values=True).items()}


def empty(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"data": [], "meta": {"totalItems": 0, "totalPages": 0}})


# ---- Accept and eventTypes ---------------------------------------------------------------


def test_every_request_asks_for_json() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("listings/show"):
            return httpx.Response(404, json={"errors": [{"status": 404, "title": "Not found"}]})
        return empty(request)

    api, seen = client(handler)
    api.events(after=7)
    api.show_listing(LISTING)
    list(api.pages("availability_exceptions/query", {"listingId": LISTING}))
    list(api.scan("listings/query", {}))
    assert seen[0].url.path == "/v1/auth/token"
    assert len(seen) == 5
    # The Integration SDK asks for Transit (src/integration_sdk.js); we parse JSON, so we say so.
    assert all(r.headers["accept"] == "application/json" for r in seen)


def test_events_ask_only_for_the_types_search_uses_by_full_name() -> None:
    api, seen = client(empty)
    api.events(after=41)
    api.events(created_at_start="2025-01-01T00:00:00.000Z")
    first, second = (params(r) for r in seen[1:])
    assert first["startAfterSequenceId"] == "41" and "createdAtStart" not in first
    assert second["createdAtStart"] == "2025-01-01T00:00:00.000Z" and "startAfterSequenceId" not in second
    types = first["eventTypes"].split(",")
    assert first["eventTypes"] == second["eventTypes"] == EVENT_TYPES
    # Every type as references/events "Supported event types" spells it; no wildcards.
    assert set(types) == {
        *(f"listing/{s}" for s in ("created", "updated", "deleted")),
        *(f"availabilityException/{s}" for s in ("created", "updated", "deleted")),
        *(f"booking/{s}" for s in ("created", "updated", "deleted")),
        *(f"stockAdjustment/{s}" for s in ("created", "updated", "deleted")),
        *(f"transaction/{s}" for s in ("initiated", "transitioned", "updated", "deleted")),
    }
    assert len(types) == len(set(types)) and not any("*" in t for t in types)
    # Reservations are in currentStock and the adjustments already (references/stock).
    assert not any(t.startswith("stockReservation/") for t in types)


# ---- the token bucket --------------------------------------------------------------------


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, 3, clock=clock, sleep=clock.sleep)
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert clock.slept == []
    waits = [bucket.acquire() for _ in range(4)]
    assert waits == pytest.approx([0.5, 0.5, 0.5, 0.5])
    # Idle time refills, but never beyond the burst.
    clock.now += 60
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.acquire() == pytest.approx(0.5)


def test_callers_that_find_the_bucket_empty_queue_in_order() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, 1, clock=clock, sleep=clock.sleep)
    assert bucket.reserve() == 0.0
    # Three callers at the same instant: each waits one token longer than the one before.
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([1.0, 2.0, 3.0])


def test_a_bucket_needs_a_rate_and_a_burst() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0, 1)
    with pytest.raises(ValueError):
        TokenBucket(1, 0)


def test_every_integration_api_request_takes_a_token_but_the_token_request_does_not() -> None:
    clock = FakeClock()
    bucket = TokenBucket(4.0, 2, clock=clock, sleep=clock.sleep)
    api, seen = client(empty, bucket=bucket)
    for seq in range(5):
        api.events(after=seq)
    assert len(seen) == 6  # the token, then five queries
    assert clock.slept == pytest.approx([0.25, 0.25, 0.25])
    assert api.stats.waited_s == pytest.approx(0.75)


def test_a_retry_after_429_takes_a_token_too_and_honours_retry_after() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, 1, clock=clock, sleep=clock.sleep)
    answers = iter([httpx.Response(429, headers={"Retry-After": "3"}, json={"errors": []})])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, None) or empty(request)

    api, seen = client(handler, bucket=bucket, sleep=clock.sleep, give_up_seconds=60)
    assert api.events(after=1) == []
    assert api.stats.throttled == 1 and api.stats.retries == 1
    # Backoff of at least Retry-After (3 s), during which the bucket refilled: no token wait.
    assert clock.slept[0] >= 3.0 and len(clock.slept) == 1
    assert len(seen) == 3


def test_one_bucket_per_environment_in_a_process_and_none_when_off() -> None:
    a = shared_bucket("https://flex.test/", "client-a", 1.0, 100)
    assert a is not None and a is shared_bucket("https://flex.test", "client-a", 1.0, 100)
    assert a is not shared_bucket("https://flex.test", "client-b", 1.0, 100)
    assert shared_bucket("https://flex.test", "client-a", 0.0, 100) is None


def test_sync_defaults_are_polite() -> None:
    settings = Settings()
    # Sharetribe: not more often than every 10-30 s when idle (how-to/reacting-to-events).
    assert settings.sync_interval_seconds == 10.0
    # Dev and Test: queries 1 a second on average (concepts/rate-limiting); the SDK's dev
    # limiter starts with 100 tokens and holds 200 at most (src/utils.js).
    assert settings.sync_rate_limit_per_second <= 1.0
    assert settings.sync_rate_limit_burst <= 100
    off = Settings(sync_rate_limit_per_second=0)
    assert shared_bucket("https://flex.test", "x", off.sync_rate_limit_per_second, 1) is None


# ---- transactions/show -------------------------------------------------------------------


def show_body(*, booking: str | None = BOOKING, listing: str | None = LISTING) -> dict[str, Any]:
    rels: dict[str, Any] = {}
    if listing:
        rels["listing"] = {"data": {"id": listing, "type": "listing"}}
    if booking:
        rels["booking"] = {"data": {"id": booking, "type": "booking"}}
    return {
        "data": {"id": TX, "type": "transaction", "attributes": {"lastTransition": "x"}, "relationships": rels},
        "included": [{"id": listing, "type": "listing", "attributes": {}}] if listing else [],
    }


def test_a_transaction_names_its_listing_and_booking() -> None:
    assert parse_transaction_links(show_body(), TX) == Link(TX, LISTING, BOOKING)
    assert parse_transaction_links(show_body(booking=None), TX) == Link(TX, LISTING, None)
    assert parse_transaction_links(show_body(listing=None), TX) is None
    assert parse_transaction_links({"data": None}, TX) is None
    assert parse_transaction_links({"data": {"relationships": {"listing": {"data": None}}}}, TX) is None


def test_transaction_links_are_asked_once_and_404_means_unknown() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if params(request)["id"] == TX:
            return httpx.Response(200, json=show_body())
        return httpx.Response(404, json={"errors": [{"status": 404, "code": "not-found", "title": "Not found"}]})

    api, seen = client(handler)
    assert api.transaction_links(TX) == Link(TX, LISTING, BOOKING)
    assert api.transaction_links(TX) == Link(TX, LISTING, BOOKING)
    assert api.transaction_links(BOOKING) is None
    assert api.transaction_links(BOOKING) is None
    shows = [r for r in seen if r.url.path.endswith("transactions/show")]
    assert len(shows) == 2
    asked = params(shows[0])
    assert asked["id"] == TX and set(asked["include"].split(",")) == {"listing", "booking"}
    assert api.transactions.get(BOOKING) == (True, None)


def test_other_refusals_of_transactions_show_are_errors() -> None:
    api, _ = client(lambda _r: httpx.Response(403, json={"errors": [{"status": 403, "title": "Forbidden"}]}))
    with pytest.raises(Exception, match="403"):
        api.transaction_links(TX)
    assert api.transactions.get(TX) == (False, None)


def test_the_transaction_cache_forgets_misses_after_a_while_and_the_least_recent_first() -> None:
    clock = FakeClock()
    cache = TransactionCache(3, clock=clock)
    cache.put("missing", None)
    assert cache.get("missing") == (True, None)
    clock.now += MISSING_TRANSACTION_TTL_S + 1
    assert cache.get("missing") == (False, None)
    links = {f"tx{i}": Link(f"tx{i}", LISTING) for i in range(4)}
    for tx, link in list(links.items())[:3]:
        cache.put(tx, link)
    assert cache.get("tx0") == (True, links["tx0"])  # now the most recent
    cache.put("tx3", links["tx3"])
    assert len(cache) == 3
    assert cache.get("tx1") == (False, None)
    assert cache.get("tx0") == (True, links["tx0"])
    clock.now += 10 * MISSING_TRANSACTION_TTL_S
    assert cache.get("tx3") == (True, links["tx3"])  # found links never expire


# ---- scans -------------------------------------------------------------------------------

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Marketplace:
    """Listings in an arbitrary order (a different one for every window, the same for every page
    of one), with `createdAtStart` inclusive and `createdAtEnd` exclusive (or both inclusive),
    `page`/`perPage`, and a `paginationLimit`."""

    def __init__(self, created: list[datetime], *, seed: int, inclusive_end: bool = False, limit: int = 5) -> None:
        self.seed = seed
        self.items = {f"l{i:05d}": ts(c) for i, c in enumerate(created)}
        self.inclusive_end = inclusive_end
        self.limit = limit
        self.on_request: Callable[[], None] = lambda: None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.on_request()
        p = params(request)
        found = list(self.items.items())
        if "createdAtStart" in p:
            found = [(i, c) for i, c in found if parse(c) >= parse(p["createdAtStart"])]
        if "createdAtEnd" in p:
            end = parse(p["createdAtEnd"])
            found = [(i, c) for i, c in found if (parse(c) <= end if self.inclusive_end else parse(c) < end)]
        found.sort()
        random.Random(f"{self.seed}/{p.get('createdAtStart')}/{p.get('createdAtEnd')}").shuffle(found)
        page, per = int(p["page"]), int(p["perPage"])
        if page > self.limit:
            return httpx.Response(400, json={"errors": [{"status": 400, "title": "page beyond paginationLimit"}]})
        chunk = found[(page - 1) * per : page * per]
        meta = {
            "totalItems": len(found),
            "totalPages": -(-len(found) // per),
            "page": page,
            "perPage": per,
            "paginationLimit": self.limit,
        }
        data = [{"id": i, "type": "listing", "attributes": {"createdAt": c}} for i, c in chunk]
        return httpx.Response(200, json={"data": data, "meta": meta})


def spread(n: int, seed: int, *, same_ms: int = 0) -> list[datetime]:
    rng = random.Random(seed)
    out = [EPOCH + timedelta(milliseconds=rng.randrange(400 * 86_400_000)) for _ in range(n)]
    # A bulk import: many listings in one millisecond, past what one page holds.
    return out + [EPOCH + timedelta(days=100)] * same_ms


def scanned(api: IntegrationApi) -> list[str]:
    return [
        str(item["id"]) for data, _ in api.scan("listings/query", {}, now=EPOCH + timedelta(days=500)) for item in data
    ]


@pytest.mark.parametrize("inclusive_end", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_scan_reads_every_listing_once_whatever_the_order(seed: int, inclusive_end: bool) -> None:
    market = Marketplace(spread(1234, seed, same_ms=150), seed=seed, inclusive_end=inclusive_end)
    api, seen = client(market)
    ids = scanned(api)
    assert sorted(ids) == sorted(market.items)
    assert len(ids) == len(set(ids))
    queries = [params(r) for r in seen if r.url.path.endswith("listings/query")]
    # Only the millisecond of the bulk import is read by page number, within paginationLimit.
    assert all(int(q["page"]) <= market.limit and q["perPage"] == "100" for q in queries)
    numbered = [q for q in queries if q["page"] != "1"]
    assert numbered
    assert all(parse(q["createdAtEnd"]) - parse(q["createdAtStart"]) <= timedelta(milliseconds=2) for q in numbered)
    # Three to four requests per hundred listings, plus two per halving from the epoch down to
    # the bulk import's millisecond (about 40).
    assert len(queries) < 4 * len(market.items) / 100 + 100


def test_a_small_marketplace_is_one_request() -> None:
    market = Marketplace(spread(99, 7), seed=7)
    api, seen = client(market)
    assert sorted(scanned(api)) == sorted(market.items)
    assert len([r for r in seen if r.url.path.endswith("listings/query")]) == 1
    assert "createdAtStart" not in params(seen[1])


def test_a_clock_behind_flex_misses_nothing() -> None:
    market = Marketplace(spread(700, 13), seed=13)
    api, _ = client(market)
    ids = [str(i["id"]) for data, _ in api.scan("listings/query", {}, now=EPOCH - timedelta(days=30)) for i in data]
    assert sorted(ids) == sorted(market.items)


def test_deletions_during_a_scan_never_hide_a_listing_that_stays() -> None:
    market = Marketplace(spread(800, 11), seed=11)
    doomed = iter(sorted(market.items)[::7])
    stays = set(market.items) - set(sorted(market.items)[::7])

    def delete_one() -> None:
        market.items.pop(next(doomed, ""), None)

    market.on_request = delete_one
    api, _ = client(market)
    assert stays <= set(scanned(api))


def test_listings_past_the_pagination_limit_in_one_millisecond_are_counted() -> None:
    market = Marketplace(spread(0, 1, same_ms=730), seed=5, limit=5)
    api, _ = client(market)
    # Each two-millisecond window around the import reads its first 500 (limit 5 pages of 100).
    assert len(set(scanned(api))) >= 500
    assert api.stats.unreachable >= 230
